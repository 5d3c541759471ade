"""The append-only case history and the step log kept before the task tree is compacted."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine import clock
from engine.state import json_ready
from engine.store import HistoryEntry, StepRecord


def append(session: Session, case_id: int, kind: str, actor: str | None = None,
           task_id: str | None = None, name: str | None = None, **details) -> None:
    # A plain INSERT on the session's connection: history is never read back as objects
    # while a case changes, so the ORM unit of work (and its autoflush) would only add cost.
    session.connection().execute(insert(HistoryEntry.__table__), [{
        "case_id": case_id, "at": clock.now(), "kind": kind, "actor": actor,
        "task_id": task_id, "name": name, "details": json_ready(details)}])


def local_iso(moment) -> str:
    return moment.astimezone(clock.LOCAL_TZ).isoformat()


def entries(session: Session, case_id: int) -> list[dict]:
    rows = session.scalars(select(HistoryEntry).where(HistoryEntry.case_id == case_id)
                           .order_by(HistoryEntry.id))
    return [{"at": local_iso(row.at), "kind": row.kind, "actor": row.actor,
             "task_id": row.task_id, "name": row.name, **row.details} for row in rows]


def record_steps(session: Session, case_id: int, finished) -> None:
    """finished: (process id, spec id, previous spec id, state) for each finished task."""
    at = clock.now()
    rows = [{"case_id": case_id, "process_id": p, "spec_id": s, "previous_spec_id": prev,
             "state": state, "at": at} for p, s, prev, state in finished]
    if rows:
        session.connection().execute(insert(StepRecord.__table__), rows)
