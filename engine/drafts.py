"""Drafts: a task form saved half-done by one user, kept until the task is done."""
from __future__ import annotations

from sqlalchemy import delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from engine import clock, state
from engine.store import Draft

DRAFTS = Draft.__table__


def save(session: Session, task_id: str, user_id: int, values: dict) -> None:
    connection = session.connection()
    # One statement, so two saves at once (a double click) both succeed, the later one kept.
    insert_ = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert_(DRAFTS).values(task_id=task_id, user_id=user_id,
                                       values=state.json_ready(values), saved_at=clock.now())
    connection.execute(statement.on_conflict_do_update(
        index_elements=[DRAFTS.c.task_id, DRAFTS.c.user_id],
        set_={"values": statement.excluded["values"], "saved_at": statement.excluded.saved_at}))


def load(session: Session, task_id: str, user_id: int | None) -> dict | None:
    if user_id is None:
        return None
    # c["values"]: c.values is the column collection's own method, not the column.
    row = session.connection().execute(select(DRAFTS.c["values"], DRAFTS.c.saved_at).where(
        DRAFTS.c.task_id == task_id, DRAFTS.c.user_id == user_id)).first()
    if row is None:
        return None
    values, saved_at = row
    return {"values": dict(values), "saved_at": saved_at.astimezone(clock.LOCAL_TZ).isoformat()}


def kept_for(task_id_column):
    """Whether anyone keeps a draft of the task, as a condition on a task id column."""
    return exists().where(DRAFTS.c.task_id == task_id_column)


def discard(session: Session, task_id: str) -> None:
    """The task is done: nobody's draft of it is needed any more."""
    session.connection().execute(delete(DRAFTS).where(DRAFTS.c.task_id == task_id))
