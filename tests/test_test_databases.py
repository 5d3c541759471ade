"""Two test runs on one machine (two checkouts, CI beside a session) never share or drop
each other's databases: each run works in databases named for it."""
from __future__ import annotations

import os

from sqlalchemy.engine import make_url


def test_a_run_works_in_databases_of_its_own(database_url, worker_id, tmp_path_factory):
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        # A copy under this run's own temporary folder.
        assert str(tmp_path_factory.getbasetemp()) in url.database
        return
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    assert url.database.startswith("kasane_test_") and url.database.endswith(f"_{worker_id}")
    assert url.database != f"kasane_test_{worker_id}"  # the old fixed name
    if run:
        assert run[:12] in url.database
