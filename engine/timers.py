"""Timers: one clock for SpiffWorkflow, due times of waiting timers, and firing them.

SpiffWorkflow's timer events call ``datetime.now(timezone.utc)`` themselves, so this is
the one place that points that code at ``engine.clock``. Naive times in models are read
as Japan time.
"""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (CycleTimerEventDefinition,
                                                              DurationTimerEventDefinition,
                                                              TimeDateEventDefinition,
                                                              TimerEventDefinition)

from engine import clock, limits, timer_values


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


class TimerFailure(ValueError):
    """A timer that cannot fire or cannot be scheduled; the step is refused."""


def _catch_up(my_task) -> int:
    """Move a cycle timer that fell behind to its next future occurrence.

    Catch-up (misfire) policy: however many cycles were missed, the timer's path runs
    once, and the number of cycles skipped is recorded; a cycle with a count ends early
    if its count runs out. A case swept a month late does not run its path 43,200 times.
    """
    value = my_task._get_internal_data("event_value")
    if not isinstance(value, dict) or value.get("cycles") == 0:
        return 0
    if value["duration"] <= 0:
        raise TimerFailure(f"繰り返しタイマー「{my_task.task_spec.bpmn_name or my_task.task_spec.name}」"
                           f"の間隔が 0 以下です。")
    now = clock.now()
    following = datetime.fromisoformat(value["next"])
    if following > now:
        return 0
    missed = int((now - following).total_seconds() // value["duration"]) + 1
    if value["cycles"] > 0:
        missed = min(missed, value["cycles"])
        value["cycles"] -= missed
    value["next"] = (following + timedelta(seconds=value["duration"] * missed)).isoformat()
    my_task._set_internal_data(event_value=value)
    return missed


_cycle_complete = CycleTimerEventDefinition.cycle_complete


def _cycle_complete_once(self, my_task):
    ready = _cycle_complete(self, my_task)
    if ready:
        skipped = _catch_up(my_task)
        if skipped:
            my_task._set_internal_data(kasane_skipped=skipped)
    return ready


CycleTimerEventDefinition.cycle_complete = _cycle_complete_once


def fire_due_timers(workflow, run_steps, now: datetime | None = None,
                    deadline: float | None = None) -> list[dict]:
    """Fire every timer of a workflow that is due; return them ({"name", "element", "due"},
    with "skipped" for a cycle that caught up). ``run_steps()`` runs the engine steps that
    a fired timer starts, within the case's budget.

    Every load of a case calls this, so a case never acts on a state its timers have
    already moved past, whether or not the sweep has run yet.
    """
    now = now or clock.now()
    budget = limits.current()
    fired: list[dict] = []
    for _ in range(budget.max_timer_rounds):
        due = [t for t in pending_timers(workflow)[0] if clock.parse_instant(t["due"]) <= now]
        if not due:
            return fired
        if deadline is not None and time.monotonic() > deadline:
            raise TimerFailure(f"タイマーの実行が時間の上限（{budget.max_case_seconds:g} 秒）を"
                               "超えました。")
        # SpiffWorkflow fires a timer only once the clock is strictly past it; a timer
        # due at 09:00 should fire at 09:00.
        with clock.fixed_at(now + timedelta(microseconds=1)):
            workflow.refresh_timers()
            run_steps()
        for timer in due:
            task = _waiting_timer(workflow, timer["element"])
            skipped = task._get_internal_data("kasane_skipped") if task is not None else None
            if skipped:
                task.internal_data.pop("kasane_skipped", None)
                timer = {**timer, "skipped": skipped}
            fired.append(timer)
        if pending_timers(workflow)[0][:len(due)] == due:
            raise TimerFailure("タイマーが期限を過ぎても発火しません: "
                               + "、".join(t["name"] for t in due))
    raise TimerFailure(f"期限の来たタイマーが {budget.max_timer_rounds} 回続けて発火しました。"
                       "タイマーの日付が過去に続いていないか、モデルを確認してください。")


def _waiting_timer(workflow, element: str):
    """The timer event's task (a finished cycle has left the event manager already)."""
    for wf in [workflow, *workflow.subprocesses.values()]:
        for task in wf.tasks.values():
            if task.task_spec.name == element and "kasane_skipped" in task.internal_data:
                return task
    return None
