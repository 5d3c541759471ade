"""On PostgreSQL a statement the engine runs again and again is prepared once per
connection (psycopg does so on its fifth use), and reads keep it that way: a read ends
with COMMIT, since psycopg forgets every prepared statement at a ROLLBACK."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from engine import clock
from tests.conftest import MODELS


def test_reads_leave_the_prepared_statements_in_place(kasane):
    if kasane.db.dialect.name != "postgresql":
        pytest.skip("psycopg's prepared statements")
    clock.set_now("2025-04-07")
    kasane.deploy([MODELS / "steps.bpmn"])
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("steps", "ito")["case_id"]
    for _ in range(8):  # reads, each ending its transaction
        kasane.show_case(case, "ito")
        kasane.list_tasks(case_id=case, actor="ito")
    with kasane.db.connect() as connection:  # the pool hands back the connection used last
        prepared = connection.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
    assert any("FROM cases" in statement for statement in prepared), prepared
