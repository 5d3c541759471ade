"""Timer and due-date values: what is usable, refused with a precise Japanese reason.

Lint (engine.modelcheck) checks constant values with these functions, and engine.timers
puts them in front of SpiffWorkflow's own parsing at run time, so that a value that
cannot be a timer (``42`` as a duration, ``"next week"``, a timeDate of ``None``,
``P9999Y``, a date in year 9999, ``R/PT0S``) ends in :class:`TimerValueError` or
:class:`engine.limits.BudgetExceeded` instead of an OverflowError, a hang (SpiffWorkflow
adds months one at a time) or a timer that fires forever. Both are ValueErrors.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine import clock, limits
from engine.limits import BudgetExceeded

KINDS = {"timeDate": "タイマーの日時 (timeDate)", "timeDuration": "タイマーの期間 (timeDuration)",
         "timeCycle": "繰り返しタイマー (timeCycle)", "dueDate": "期限 (camunda:dueDate)"}

# SpiffWorkflow's own parsers, before engine.timers puts the checked ones in their place.
_parse_duration = TimerEventDefinition.parse_iso_duration
_parse_cycle = TimerEventDefinition.parse_iso_recurring_interval

_YEARS = {"years": 1, "months": 1 / 12, "weeks": 7 / 365, "days": 1 / 365,
          "hours": 1 / 8760, "minutes": 1 / 525600, "seconds": 1 / 31536000}


class TimerValueError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.limit = None


def _show(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def check_instant(moment: datetime, what: str = "日時", shown: str | None = None) -> datetime:
    """A datetime within min_year..max_year (its own calendar year), as UTC."""
    current = limits.current()
    detail = f"{what} {shown or moment.isoformat()}"
    if moment.year < current.min_year:
        raise BudgetExceeded("min_year", moment.year, current.min_year, detail)
    if moment.year > current.max_year:
        raise BudgetExceeded("max_year", moment.year, current.max_year, detail)
    return moment.astimezone(timezone.utc)  # years 1..9998 always convert


def instant(value, what: str = "日時") -> datetime:
    """An ISO date or datetime (text), a date or a datetime, as a UTC datetime."""
    if value is None:
        raise TimerValueError(f"{what}がありません (None)")
    if isinstance(value, datetime):
        return check_instant(value if value.tzinfo else value.replace(tzinfo=clock.LOCAL_TZ), what)
    if isinstance(value, date):
        return check_instant(datetime.combine(value, time(9), clock.LOCAL_TZ), what)
    if not isinstance(value, str):
        raise TimerValueError(f"{what}は ISO 8601 の日付か日時（例: \"2026-05-01\"）で指定して"
                              f"ください（値: {_show(value)}）")
    text = value.strip()
    if text.upper().startswith(("P", "R")):
        raise TimerValueError(f"{what}に期間や繰り返しは指定できません（値: {_show(value)}）")
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(9), clock.LOCAL_TZ)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise TimerValueError(f"{what}として読めません: {_show(value)}"
                              "（ISO 8601 の日付か日時にしてください）") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=clock.LOCAL_TZ)
    return check_instant(moment, what, text)


def duration(value, what: str = "期間") -> dict:
    """SpiffWorkflow's parsed ISO duration ({"days": 3}), at most max_timer_years long."""
    if not isinstance(value, str):
        raise TimerValueError(f"{what}は ISO 8601 の期間を文字列（例: \"P3D\"）で指定してください"
                              f"（値: {_show(value)}）")
    text = value.strip()
    try:
        if not text.upper().startswith("P"):
            raise ValueError(text)
        parsed = _parse_duration(text)
    except Exception:
        raise TimerValueError(f"{what}として読めません: {_show(value)}"
                              "（ISO 8601 の期間、例えば \"P3D\" や \"PT12H\" にしてください）") from None
    years = sum(amount * _YEARS[unit] for unit, amount in parsed.items() if unit in _YEARS)
    allowed = limits.current().max_timer_years
    if years > allowed:
        raise BudgetExceeded("max_timer_years", round(years, 1), allowed, f"{what} {text}")
    return parsed


def add_duration(parsed: dict, start: datetime) -> datetime:
    """start + a checked duration (calendar months and years)."""
    try:
        moment = start + TimerEventDefinition.get_timedelta_from_start(dict(parsed), start)
    except (OverflowError, ValueError):
        raise BudgetExceeded("max_year", None, limits.current().max_year,
                             f"{start.isoformat()} からの期間") from None
    return check_instant(moment)


def cycle(value, what: str = "繰り返しタイマー") -> tuple[int, datetime, timedelta]:
    """SpiffWorkflow's (cycles, start, interval) of ``R[n]/[start/]duration``, with an
    interval of at least min_cycle_seconds."""
    if not isinstance(value, str):
        raise TimerValueError(f"{what}は ISO 8601 の繰り返し（例: \"R3/P1D\"）を文字列で指定して"
                              f"ください（値: {_show(value)}）")
    text = value.strip()
    if not text.upper().startswith("R") or "/" not in text:
        raise TimerValueError(f"{what}として読めません: {_show(value)}（例: \"R3/P1D\"）")
    try:
        cycles, start, interval = _parse_cycle(text)
    except (TimerValueError, BudgetExceeded):
        raise
    except Exception:
        raise TimerValueError(f"{what}として読めません: {_show(value)}（例: \"R3/P1D\"）") from None
    seconds = interval.total_seconds()
    minimum = limits.current().min_cycle_seconds
    if seconds <= 0:
        raise TimerValueError(f"{what}の間隔が {'0' if seconds == 0 else '負'} です: {_show(value)}"
                              "（毎回すぐに発火してしまいます）")
    if seconds < minimum:
        raise BudgetExceeded("min_cycle_seconds", seconds, minimum, f"{what} {text}")
    check_instant(start)
    return cycles, start, interval


def check(kind: str, value, start: datetime | None = None) -> None:
    """Lint: a constant value of a timer (timeDate, timeDuration, timeCycle) or due date."""
    what = KINDS[kind]
    start = start or clock.now()
    if kind == "timeDate":
        instant(value, what)
    elif kind == "timeDuration":
        add_duration(duration(value, what), start)
    elif kind == "timeCycle":
        cycle(value, what)
    elif isinstance(value, str) and value.strip().upper().startswith("P"):
        add_duration(duration(value, what), start)
    else:
        instant(value, what)


# --- run time: SpiffWorkflow's timer code, made to fail cleanly -------------------------

def checked_duration(expression):
    return duration(expression)


def checked_cycle(expression):
    return cycle(expression)


def with_task(method, kind: str):
    """Wrap a timer definition's has_fired/cycle_complete: a value that is not usable
    becomes a WorkflowTaskException naming the task, as expression errors are."""
    def checked(self, my_task):
        try:
            return method(self, my_task)
        except SpiffWorkflowException:
            raise
        except Exception as exc:
            value = my_task._get_internal_data("event_value")
            reason = getattr(exc, "reason", None) or (
                f"{KINDS[kind]}の値 {_show(value)} はタイマーとして使えません"
                f"（{type(exc).__name__}: {exc}）")
            error = WorkflowTaskException(reason, task=my_task, exception=exc)
            error.reason, error.limit = reason, getattr(exc, "limit", None)
            raise error from exc
    checked.__wrapped__ = method
    return checked
