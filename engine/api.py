"""The engine's one Python API. The CLI, the behaviour specs and the web UI call this.

Each method is one transaction. Code that already holds a Session (a web request doing
several things at once) calls the module functions directly.
"""
from __future__ import annotations

from engine import cases, deployments, events, human_tasks, timers, users
from engine.store import database_url, make_engine, make_sessionmaker, transaction


class Kasane:
    def __init__(self, url: str | None = None):
        self.url = url or database_url()
        self.db = make_engine(self.url)
        self.Session = make_sessionmaker(self.db)

    def transaction(self):
        return transaction(self.Session)

    def upgrade_database(self) -> None:
        from engine import migrate  # Alembic is slow to import; only this command needs it
        migrate.upgrade(self.url)

    def deploy(self, paths, actor: str | None = None) -> list[dict]:
        with self.transaction() as session:
            return deployments.deploy(session, paths, actor)

    def lint(self, paths) -> dict:
        return deployments.lint(paths)

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
        with self.transaction() as session:
            return cases.open_case(session, pathway, actor, data)

    def show_case(self, case_id) -> dict:
        with self.transaction() as session:
            return cases.show_case(session, case_id)

    def send_event(self, case_id, message: str, actor: str, data: dict | None = None) -> dict:
        with self.transaction() as session:
            return events.send_event(session, case_id, message, actor, data)

    def list_tasks(self, case_id=None, role: str | None = None) -> list[dict]:
        with self.transaction() as session:
            return human_tasks.list_tasks(session, case_id, role)

    def complete_task(self, task_id: str, actor: str, data: dict | None = None) -> dict:
        with self.transaction() as session:
            return human_tasks.complete_task(session, task_id, actor, data)

    def run_timers(self, now=None) -> dict:
        return timers.run_due_timers(self.Session, now)

    def close(self) -> None:
        self.db.dispose()
