"""The audit log is append-only: the database itself refuses to change or remove a row,
on SQLite and on PostgreSQL (where TRUNCATE, which no row trigger sees, is refused too)."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from engine.store import AuditEntry

STATEMENTS = ["UPDATE audit_log SET actor = 'someone else'",
              "UPDATE audit_log SET allowed = NOT allowed WHERE id = 1",
              "DELETE FROM audit_log WHERE id = 1",
              "DELETE FROM audit_log"]


@pytest.fixture
def logged(kasane, database_url):
    kasane.add_agency("北包括", "地域包括支援センター")
    kasane.search_cases("花子")
    kasane.read_audit.flush()
    engine = create_engine(database_url)
    yield engine
    engine.dispose()


def rows(engine):
    with engine.connect() as conn:
        return conn.execute(select(AuditEntry.id, AuditEntry.actor, AuditEntry.allowed)
                            .order_by(AuditEntry.id)).all()


@pytest.mark.parametrize("statement", STATEMENTS + ["TRUNCATE audit_log"])
def test_the_database_refuses_to_change_the_audit_log(logged, statement):
    before = rows(logged)
    assert len(before) == 2
    if statement.startswith("TRUNCATE") and logged.dialect.name != "postgresql":
        pytest.skip("SQLite has no TRUNCATE (its DELETE FROM is refused above)")
    with pytest.raises(DBAPIError, match="append-only"):
        with logged.begin() as conn:
            conn.execute(text(statement))
    assert rows(logged) == before


def test_rows_can_still_be_added(logged):
    with logged.begin() as conn:
        count = conn.scalar(select(func.count()).select_from(AuditEntry))
    assert count == 2
