"""On PostgreSQL a statement the engine runs again and again is prepared once per
connection (psycopg does so on its fifth use), and reads keep it that way: a read ends
with COMMIT, since psycopg forgets every prepared statement at a ROLLBACK. Reads are
planned for their own values; writes may reuse a plan."""
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


def test_reads_are_planned_for_their_own_values_and_writes_may_reuse_a_plan(kasane):
    if kasane.db.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plan cache")
    with kasane.reading() as session:
        assert session.connection().exec_driver_sql("SHOW plan_cache_mode").scalar() == "force_custom_plan"
    with kasane.transaction() as session:
        assert session.connection().exec_driver_sql("SHOW plan_cache_mode").scalar() == "auto"
