"""Drafts: a task form saved half-done by one user, kept until the task is done."""
from __future__ import annotations

from sqlalchemy import delete, exists, insert, select, update
from sqlalchemy.orm import Session

from engine import clock, state
from engine.store import Draft

DRAFTS = Draft.__table__


def save(session: Session, task_id: str, user_id: int, values: dict) -> None:
    connection = session.connection()
    values = state.json_ready(values)
    changed = connection.execute(update(DRAFTS).where(
        DRAFTS.c.task_id == task_id, DRAFTS.c.user_id == user_id).values(
        values=values, saved_at=clock.now())).rowcount
    if not changed:
        connection.execute(insert(DRAFTS).values(task_id=task_id, user_id=user_id, values=values,
                                                 saved_at=clock.now()))


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
