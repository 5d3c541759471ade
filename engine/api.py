"""The engine's one Python API. The CLI, the behaviour specs and the web UI call this.

Each method is one transaction (a read that finds timers due first fires them in a write
transaction of its own). A model that fails while a case runs rolls the step back and
leaves an incident on the case.
"""
from __future__ import annotations

from sqlalchemy import exists, or_, select

import forms

from engine import (agencies, cases, clock, deployments, events, human_tasks, incidents, sweep,
                    users)
from engine.store import (Case, database_url, make_engine, make_read_sessionmaker,
                          make_sessionmaker, transaction)
from engine.unit_of_work import ModelFailure, case_unit, get_case_row, timers_due


class Kasane:
    def __init__(self, url: str | None = None):
        self.url = url or database_url()
        self.db = make_engine(self.url)
        self.Session = make_sessionmaker(self.db)
        self.ReadSession = make_read_sessionmaker(self.db)

    def transaction(self):
        return transaction(self.Session)

    def reading(self):
        return transaction(self.ReadSession)

    def upgrade_database(self) -> None:
        from engine import migrate  # Alembic is slow to import; only this command needs it
        migrate.upgrade(self.url)

    def deploy(self, paths, actor: str | None = None) -> list[dict]:
        with self.transaction() as session:
            return deployments.deploy(session, paths, actor)

    def lint(self, paths) -> dict:
        return deployments.lint(paths)

    def add_agency(self, name: str, kind: str) -> dict:
        with self.transaction() as session:
            return agencies.add_agency(session, name, kind)

    def list_agencies(self) -> list[dict]:
        with self.reading() as session:
            return agencies.list_agencies(session)

    def add_agency_kind(self, name: str) -> dict:
        with self.transaction() as session:
            return agencies.add_kind(session, name)

    def list_agency_kinds(self) -> list[str]:
        with self.reading() as session:
            return agencies.kinds(session)

    def add_user(self, name: str, roles: list[str], agency: str | None = None,
                 password: str | None = None) -> dict:
        with self.transaction() as session:
            return users.add_user(session, name, roles, agency, password)

    def verify_password(self, name: str, password: str) -> dict | None:
        """The user (name, roles, agency) if the password is right, else None."""
        with self.transaction() as session:
            user = users.verify_password(session, name, password)
            return users.user_dict(user) if user is not None else None

    def open_case(self, pathway: str, actor: str, data: dict | None = None) -> dict:
        data = human_tasks.check_flat_object(data or {})
        with self._recording_incidents():
            with self.transaction() as session:
                user = users.get_user(session, actor)
                row = cases.open_case(session, pathway, user, data)
                return cases.summary(session, row)

    def show_case(self, case_id, actor: str | None = None) -> dict:
        self._fire_due_timers(case_id)
        with self.reading() as session:
            if actor is not None:
                users.get_user(session, actor)
            return cases.show_case(session, case_id)

    def send_event(self, case_id, message: str, actor: str, data: dict | None = None) -> dict:
        form_key = message if forms.get_form(message) else None  # an event's form: its name
        values = human_tasks.validate_form(form_key, data)
        with self._recording_incidents():
            with self.transaction() as session:
                user = users.get_user(session, actor)
                row = events.send_event(session, case_id, message, user, values, form_key)
                return cases.summary(session, row)

    def list_tasks(self, case_id=None, role: str | None = None, actor: str | None = None) -> list[dict]:
        if case_id is not None:
            self._fire_due_timers(case_id)
        else:
            self._sweep_if_due()
        with self.reading() as session:
            if actor is not None:
                users.get_user(session, actor)
            return human_tasks.list_tasks(session, case_id, role)

    def complete_task(self, task_id: str, actor: str, data: dict | None = None) -> dict:
        with self._recording_incidents():
            with self.transaction() as session:
                user = users.get_user(session, actor)
                row = human_tasks.get_open_task(session, task_id)
                users.require_role(user, row.role, f"タスク「{row.name}」の完了")
                values = human_tasks.validate_form(row.form_key, data)
                case = human_tasks.complete_task(session, row, user, values)
                return cases.summary(session, case)

    def run_timers(self, now=None) -> dict:
        return sweep.run_due_timers(self.Session, now)

    def close(self) -> None:
        self.db.dispose()

    # --- helpers ---------------------------------------------------------------------

    def _fire_due_timers(self, case_id) -> None:
        """A read never shows a state its timers have moved past. If they fail, the read
        shows the stored state and the case gets an incident (as in the sweep)."""
        with self.reading() as session:
            row = get_case_row(session, case_id)
            number, due = row.id, timers_due(row)
        if not due:
            return
        try:
            with self.transaction() as session:
                with case_unit(session, number):
                    pass
        except ModelFailure as exc:
            with self.transaction() as session:
                incidents.record(session, number, exc, backoff=True)

    def _sweep_if_due(self) -> None:
        now = clock.now()
        with self.reading() as session:
            due = session.scalar(select(exists().where(
                Case.next_timer_at <= now, or_(Case.retry_at.is_(None), Case.retry_at <= now))))
        if due:
            self.run_timers()

    def _recording_incidents(self):
        return _IncidentRecorder(self)


class _IncidentRecorder:
    """After a step the model failed (and that was rolled back), note it on the case."""

    def __init__(self, api: Kasane):
        self.api = api

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if isinstance(exc, ModelFailure) and exc.case_id is not None:
            with self.api.transaction() as session:
                incidents.record(session, exc.case_id, exc, backoff=False)
        return False
