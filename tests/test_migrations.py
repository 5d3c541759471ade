"""The schema only changes through Alembic, and the migrations match the models."""
from __future__ import annotations

from sqlalchemy import create_engine, inspect

from engine import migrate


def test_empty_database_upgrades_to_head_and_matches_the_models(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    migrate.upgrade(url)
    migrate.check(url)  # raises if autogenerate would find differences
    engine = create_engine(url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"users", "deployments", "cases", "human_tasks", "case_history", "case_steps",
            "incidents", "alembic_version"} <= tables


def test_downgrade_to_base_removes_everything(tmp_path):
    url = f"sqlite:///{tmp_path / 'down.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url)
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_configured_database_is_at_head(database_url):
    migrate.check(database_url)
