"""Incidents: a step the model failed, noted on the case after the step was rolled back."""
from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine import clock, history, limits
from engine.errors import KasaneError
from engine.store import Case, Incident

log = logging.getLogger(__name__)


def record(session: Session, case_id: int, exc: Exception, backoff: bool) -> None:
    """An open incident on the case. With ``backoff`` (the timer sweep, or a read firing
    due timers), the case's timers are not tried again for a while, doubling each time."""
    now = clock.now()
    retries = session.scalar(select(func.count(Incident.id)).where(
        Incident.case_id == case_id, Incident.resolved_at.is_(None))) or 0
    message = exc.message if isinstance(exc, KasaneError) else \
        f"ケースの実行中にエラーが発生しました: {type(exc).__name__}: {exc}"
    element = exc.fields.get("element") if isinstance(exc, KasaneError) else None
    session.add(Incident(case_id=case_id, at=now, message=message, element=element,
                         retry_count=retries + 1))
    if backoff:
        budget = limits.current()
        wait = min(budget.retry_seconds * 2 ** min(retries, 30), budget.retry_max_seconds)
        log.warning("case %s failed (%s); its timers wait %ss", case_id, type(exc).__name__, wait)
        session.execute(update(Case.__table__).where(Case.__table__.c.id == case_id)
                        .values(retry_at=now + timedelta(seconds=wait)))
    if retries == 0:  # one history row per failure, not one per attempt
        history.append(session, case_id, "incident", message=message)
