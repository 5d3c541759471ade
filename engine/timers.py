"""Timers: one clock for SpiffWorkflow, due times of waiting timers, and the timer sweep.

SpiffWorkflow's timer events call ``datetime.now(timezone.utc)`` themselves, so this is
the one place that points that code at ``engine.clock``. Naive times in models are read
as Japan time.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                              DurationTimerEventDefinition,
                                                              TimeDateEventDefinition,
                                                              TimerEventDefinition)
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from engine import clock, timer_values


class _ClockDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        moment = clock.now()
        return moment.astimezone(tz) if tz else moment.astimezone(clock.LOCAL_TZ).replace(tzinfo=None)


spiff_timer.datetime = _ClockDatetime
spiff_timer.LOCALTZ = clock.LOCAL_TZ
# One reading of model dates everywhere: a bare date is 09:00 Japan time, as for due dates.
TimerEventDefinition.get_datetime = staticmethod(clock.parse_instant)
_parse_time_or_duration = TimerEventDefinition.parse_time_or_duration


def _time_or_duration(value):
    # A timer expression may give a date or datetime (a form field) as well as ISO text.
    # Anything unusable is a ValueError naming the value (engine.timer_values). Instants
    # are _ClockDatetime: SpiffWorkflow's cycle parser tests isinstance(x, datetime)
    # against the name patched above, so R/<start>/<duration> needs them.
    if isinstance(value, (date, datetime)) or not isinstance(value, str):
        moment = timer_values.instant(value)
    elif value.strip().upper().startswith("P"):
        return timer_values.duration(value.strip())
    elif "W" in value.upper():  # an ISO week date
        try:
            moment = timer_values.check_instant(_parse_time_or_duration(value.strip()))
        except (AttributeError, ValueError, OverflowError):
            raise timer_values.TimerValueError(f"日時として読めません: {value!r}") from None
    else:
        moment = timer_values.instant(value)
    return _ClockDatetime.combine(moment.date(), moment.timetz())


TimerEventDefinition.parse_time_or_duration = staticmethod(_time_or_duration)
# Durations and cycles are checked before SpiffWorkflow computes with them (P9999Y would
# add 119,988 months one at a time; R/PT0S would fire forever), and a timer whose value
# is unusable fails naming its element.
TimerEventDefinition.parse_iso_duration = staticmethod(timer_values.checked_duration)
TimerEventDefinition.parse_iso_recurring_interval = staticmethod(timer_values.checked_cycle)
for _definition, _method, _kind in ((TimeDateEventDefinition, "has_fired", "timeDate"),
                                    (DurationTimerEventDefinition, "has_fired", "timeDuration"),
                                    (CycleTimerEventDefinition, "cycle_complete", "timeCycle")):
    setattr(_definition, _method, timer_values.with_task(getattr(_definition, _method), _kind))

log = logging.getLogger(__name__)


def to_instant(value, start: datetime | None = None) -> datetime | None:
    """A due time from a model value: date, datetime, ISO text (date, datetime, duration)."""
    start = start or clock.now()
    if value is None or value == "":
        return None
    if isinstance(value, timedelta):
        try:
            return timer_values.check_instant(start + value, "期限")
        except OverflowError:
            raise timer_values.TimerValueError(f"期限が日付の範囲を超えます: {value!r}") from None
    if isinstance(value, str) and value.strip().upper().startswith("P"):
        return timer_values.add_duration(timer_values.duration(value, "期限"), start)
    # ISO text, a date or a datetime; anything else is a ValueError naming the value.
    return timer_values.instant(value, "期限")


def pending_timers(workflow) -> tuple[list[dict], datetime | None]:
    """The case's waiting timers as [{"name", "due"}] and the earliest due time."""
    pending = []
    for task in workflow.event_manager.tasks.values():
        definition = task.task_spec.event_definition
        if not isinstance(definition, TimerEventDefinition):
            continue
        value = definition.details(task).value
        if value is None or isinstance(value, dict):  # a dict: a cycle with no cycles left
            continue
        due = to_instant(value)
        pending.append((due, definition.name or task.task_spec.name, task.task_spec.name))
    pending.sort()
    timers = [{"name": name, "due": due.astimezone(clock.LOCAL_TZ).isoformat(), "element": spec}
              for due, name, spec in pending]
    return timers, (pending[0][0] if pending else None)


def run_due_timers(Session: sessionmaker, now: datetime | None = None) -> dict:
    """Fire every due case in due order, each in its own transaction.

    A failing case gets an incident (message, retry count) and the sweep goes on. A case
    that someone else changed meanwhile is left for the next sweep: whoever changed it
    loaded it, which fired its due timers already.
    """
    from engine import cases, history
    from engine.errors import Conflict
    from engine.store import Case, Incident, transaction

    now = now or clock.now()
    with Session.begin() as session:
        due_ids = list(session.scalars(
            select(Case.id).where(Case.next_timer_at.is_not(None), Case.next_timer_at <= now)
            .order_by(Case.next_timer_at, Case.id)))
    fired = incidents = 0
    for case_id in due_ids:
        try:
            with transaction(Session) as session:
                loaded = cases.load_case(session, case_id)  # fires what is due
                cases.save_case(session, loaded)
                if loaded.fired_timers:
                    fired += 1
                for incident in session.scalars(select(Incident).where(
                        Incident.case_id == case_id, Incident.resolved_at.is_(None))):
                    incident.resolved_at = now
        except Conflict:
            continue
        except Exception as exc:  # one broken case must not stop the sweep
            log.warning("timer failed for case %s: %s", case_id, type(exc).__name__)
            incidents += 1
            with Session.begin() as session:
                retries = len(session.scalars(select(Incident.id).where(
                    Incident.case_id == case_id, Incident.resolved_at.is_(None))).all())
                message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                session.add(Incident(case_id=case_id, at=now, message=message,
                                     retry_count=retries + 1))
                history.append(session, case_id, "incident", message=message,
                               retry_count=retries + 1)
    return {"fired": fired, "incidents": incidents}


def fire_due_timers(workflow, now: datetime | None = None) -> list[dict]:
    """Fire every timer of a workflow that is due, missed cycles included; return them.

    Every load of a case calls this, so a case never acts on a state its timers have
    already moved past, whether or not the sweep has run yet.
    """
    now = now or clock.now()
    fired = []
    # A cycle timer far behind fires once per missed cycle; the bound keeps a broken
    # model from spinning forever.
    for _ in range(1000):
        due = [t for t in pending_timers(workflow)[0] if clock.parse_instant(t["due"]) <= now]
        if not due:
            break
        fired.extend(due)
        # SpiffWorkflow fires a timer only once the clock is strictly past it; a timer
        # due at 09:00 should fire at 09:00.
        with clock.fixed_at(now + timedelta(microseconds=1)):
            workflow.refresh_timers()
        workflow.do_engine_steps()
        if pending_timers(workflow)[0][:len(due)] == due:
            raise RuntimeError("タイマーが期限を過ぎても発火しません。")
    return fired
