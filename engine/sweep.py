"""The timer sweep: fire every due case, each in its own transaction, whatever one case does.

Workers claim due cases one at a time, so several workers split the work instead of
redoing each other's (on PostgreSQL ``FOR UPDATE SKIP LOCKED``; SQLite has one writer at
a time, so its claims are serialised anyway). A case that fails becomes an incident and
is left alone for a while (doubling each time), and the sweep goes on with the others.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine import audit, clock, incidents
from engine.errors import Conflict
from engine.store import Case, transaction
from engine.unit_of_work import case_unit


def run_due_timers(Session: sessionmaker, sweeper, now: datetime | None = None) -> dict:
    """Fire what is due at ``now`` (default: the engine clock); report timers and cases.
    ``sweeper`` is the actor the audit log records for each case whose timers fired."""
    if now is None:
        return _sweep(Session, sweeper)
    with clock.fixed_at(now):
        return _sweep(Session, sweeper)


def fire_case(session: Session, case_id: int, sweeper) -> list[dict]:
    """Fire one case's due timers (a unit of work with an empty body); a case whose timers
    fired gets an audit row, so the log shows every change of the case and who made it."""
    with case_unit(session, case_id) as loaded:
        pass
    if loaded.fired_timers:
        audit.write(session, [audit.entry(sweeper, "timers.fire", True, case_id=case_id,
                                          detail="、".join(t["name"] or t["element"]
                                                           for t in loaded.fired_timers))])
    return loaded.fired_timers


def _sweep(Session: sessionmaker, sweeper) -> dict:
    now = clock.now()
    report = {"fired": 0, "cases": 0, "incidents": 0, "timers": []}
    skipped: set[int] = set()  # changed by someone else meanwhile: next sweep
    while True:
        try:
            with transaction(Session) as session:
                case_id = claim_next_due(session, now, skipped)
                if case_id is None:
                    return report
                try:
                    with session.begin_nested():
                        fired = fire_case(session, case_id, sweeper)
                except (Conflict, StaleDataError):
                    raise
                except Exception as exc:  # one broken case must not stop the sweep
                    incidents.record(session, case_id, exc, backoff=True)
                    audit.write(session, [audit.entry(sweeper, "timers.fire", True, case_id=case_id,
                                                      detail="失敗（インシデント）")])
                    report["incidents"] += 1
                    continue
                if fired:
                    report["cases"] += 1
                    report["fired"] += len(fired)
                    report["timers"] += [{"case_id": case_id, "name": t["name"],
                                          "element": t["element"], "due": t["due"],
                                          **({"skipped": t["skipped"]} if t.get("skipped") else {})}
                                         for t in fired]
        except (Conflict, StaleDataError):
            # Whoever changed it loaded it first, which fired its due timers already.
            skipped.add(case_id)


def claim_next_due(session: Session, now: datetime, skipped: set[int]) -> int | None:
    query = (select(Case.id)
             .where(Case.next_timer_at.is_not(None), Case.next_timer_at <= now,
                    or_(Case.retry_at.is_(None), Case.retry_at <= now))
             .order_by(Case.next_timer_at, Case.id).limit(1))
    if skipped:
        query = query.where(Case.id.not_in(skipped))
    if session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return session.scalar(query)
