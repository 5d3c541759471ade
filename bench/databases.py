"""Databases of a benchmark run: a fresh SQLite file, or a fresh PostgreSQL database next
to the one given, under a name of this run's own, so that runs (and test runs on the same
server) never drop each other's data."""
from __future__ import annotations

import os
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


@contextmanager
def scratch_database(server_url: str | None, prefix: str, keep: bool = False):
    """Yield the URL of an empty database; it is removed afterwards unless ``keep``."""
    if not server_url:
        folder = Path(tempfile.mkdtemp(prefix=f"{prefix}_"))
        try:
            yield f"sqlite:///{folder / 'bench.db'}"
        finally:
            if not keep:
                for path in folder.iterdir():
                    path.unlink()
                folder.rmdir()
        return
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
