"""Shared fixtures: a fresh, migrated database per test on SQLite or PostgreSQL.

SQLite (the default): the schema is migrated once per session into a template file, which
each test copies. PostgreSQL (KASANE_DATABASE_URL): each xdist worker gets its own
database, migrated once; each test starts from emptied tables.
"""
from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import clock, migrate
from engine.api import Kasane
from engine.store import Base

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(__file__).resolve().parent / "models"

def at_once(*calls) -> list:
    """Start the calls together, one thread each, from a barrier; what each returned or
    raised, in order."""
    barrier = threading.Barrier(len(calls))
    outcomes: list = [None] * len(calls)

    def run(n, call):
        barrier.wait()
        try:
            outcomes[n] = call()
        except Exception as exc:  # noqa: BLE001 - returned for the test to judge
            outcomes[n] = exc

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes


pytest_plugins = [  # a module before the step modules that import it
    "tests.steps.context",
    "tests.steps.tables",
    "tests.steps.tasks",
    "tests.steps.clock",
    "tests.steps.cases",
    "tests.steps.access",
    "tests.steps.coverage_plugin",
]


def _postgres_base_url() -> str | None:
    url = os.environ.get("KASANE_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


@pytest.fixture(scope="session")
def _database_template(tmp_path_factory, worker_id):
    base = _postgres_base_url()
    if base is None:
        template = tmp_path_factory.mktemp("template") / "kasane.db"
        migrate.upgrade(f"sqlite:///{template}")
        yield ("sqlite", template)
        return
    # Unique per run: two runs on one server (two checkouts, CI beside a session) must
    # not drop each other's databases. xdist gives all workers of a run the same id.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
    name = f"kasane_test_{run[:12]}_{worker_id}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield ("postgresql", (url, _seed_rows(url)))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def database_url(_database_template, tmp_path) -> str:
    kind, source = _database_template
    if kind == "sqlite":
        target = tmp_path / "kasane.db"
        shutil.copy(source, target)
        return f"sqlite:///{target}"
    url, seed = source
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        # The audit log refuses TRUNCATE (a trigger): tests start from an empty one all
        # the same, with the triggers of this transaction off (the server's superuser).
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for table in Base.metadata.sorted_tables:  # what the migrations put in, back again
            if seed.get(table.name):
                conn.execute(table.insert(), seed[table.name])
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def module_database_url(_database_template, tmp_path_factory) -> str:
    """A migrated database that the tests of one module share (a world built once and
    only read by its tests): a copied SQLite file, or a PostgreSQL database of its own."""
    kind, source = _database_template
    if kind == "sqlite":
        target = tmp_path_factory.mktemp("module") / "kasane.db"
        shutil.copy(source, target)
        yield f"sqlite:///{target}"
        return
    base = make_url(source[0])
    name = f"{base.database}_m{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A throwaway database: commits need not wait for the disk (thousands of audited
        # reads run against it).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = base.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _seed_rows(url: str) -> dict[str, list[dict]]:
    """Rows the migrations insert (agency kinds, the city's own agency), by table."""
    engine = create_engine(url)
    with engine.connect() as conn:
        # Without their ids: identities restart at 1 and number them again, in order.
        seed = {t.name: [{k: v for k, v in r._mapping.items() if k != "id"}
                         for r in conn.execute(t.select().order_by(*t.primary_key.columns))]
                for t in Base.metadata.sorted_tables}
    engine.dispose()
    return seed


@pytest.fixture(autouse=True)
def _reset_clock():
    clock.set_now(None)
    yield
    clock.set_now(None)


@pytest.fixture
def kasane(database_url):
    api = Kasane(database_url)
    yield api
    api.close()


@pytest.fixture
def set_limits(monkeypatch):
    """Lower a budget for one test: ``set_limits(max_engine_steps=200)``."""
    from engine import limits

    def apply(**values):
        for name, value in values.items():
            monkeypatch.setenv(limits.env_name(name), str(value))
        limits.reload()

    yield apply
    monkeypatch.undo()
    limits.reload()
