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


def test_data_of_earlier_revisions_is_carried_forward(tmp_path, kasane):
    """Users' free-text agencies become registered agencies, cases are held by the city's
    own agency, and a case's 本人 comes from its data."""
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0003")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (name, roles, agency, created_at) VALUES "
                          "('tanaka', '[\"相談支援コーディネーター\"]', 'まるごと相談室', '2025-04-01 00:00:00')"))
        conn.execute(text("INSERT INTO deployments (pathway, version, content_hash, files, deployed_at) "
                          "VALUES ('p', 1, 'x', '{}', '2025-04-01 00:00:00')"))
        conn.execute(text("INSERT INTO cases (deployment_id, pathway, status, data, timers, state, "
                          "serializer_version, opened_at, opened_by, updated_at, version_id) VALUES "
                          "(1, 'p', 'open', '{\"氏名\": \"重 花子\", \"ふりがな\": \"カサネ ハナコ\"}', "
                          "'[]', '{}', '1', '2025-04-01 00:00:00', 'tanaka', '2025-04-01 00:00:00', 1)"))
    migrate.upgrade(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT a.name, a.kind FROM users u JOIN agencies a "
                                 "ON a.id = u.agency_id")).one() == ("まるごと相談室", "市福祉課")
        assert conn.execute(text("SELECT a.name, h.basis FROM case_agencies h JOIN agencies a "
                                 "ON a.id = h.agency_id")).one() == ("市福祉課", "receiving")
        assert conn.execute(text("SELECT name, search_kana, principal FROM members")).one() == \
            ("重 花子", "かさねはなこ", 1)
    engine.dispose()
    migrate.downgrade(url, "0003")
