"""The one clock that the engine and SpiffWorkflow's timers read.

Time is real unless it is fixed: by ``KASANE_NOW`` (ISO 8601), by ``--now`` on the
CLI, or by tests through :func:`set_now`. Every stored time is UTC; dates that people
type without a zone are read as Japan time, the municipality's local time.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Tokyo")

# Process-wide, so that worker threads see the same fixed time as the thread that set it.
_fixed: datetime | None = None
# A section fixed with ``fixed_at`` (the sweep at a given time, a timer firing) holds its
# own time in its own context: two threads sweeping at once (a threaded web worker) each
# see theirs, and neither leaves the other's, or the process's, clock frozen.
_section: ContextVar[datetime | None] = ContextVar("kasane_fixed_section", default=None)


class OutOfRange(ValueError):
    """An ISO date or datetime that reads, but that no UTC datetime can hold
    (9999-12-31T23:59:59-12:00, 0001-01-01T00:00:00+09:00)."""


def parse_instant(text: str) -> datetime:
    """Read an ISO 8601 date or datetime; a bare date means 09:00 Japan time."""
    text = text.strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(9, 0), LOCAL_TZ)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"ISO 8601 の日付または日時として読めません: {text!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    try:
        return moment.astimezone(timezone.utc)
    except (OverflowError, ValueError) as exc:
        raise OutOfRange(f"日時が扱える範囲（1〜9999 年）を外れています: {text!r}") from exc


# The clock itself stays where date arithmetic cannot overflow (a year or two either way).
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def parse_clock(text: str) -> datetime:
    """A value for the clock (KASANE_NOW, --now): an ISO date or datetime from 1900 to 8999."""
    try:
        moment = parse_instant(text)
    except OutOfRange:
        moment = None  # past the calendar's ends: out of the clock's range too
    if moment is None or not EARLIEST <= moment < LATEST:
        raise ValueError(f"現在日時は 1900 年から 8999 年の間で指定してください: {text.strip()!r}")
    return moment


def now() -> datetime:
    """The current instant in UTC, as fixed by fixed_at, set_now or KASANE_NOW, else real."""
    section = _section.get()
    if section is not None:
        return section
    if _fixed is not None:
        return _fixed
    env = os.environ.get("KASANE_NOW")
    if env:
        return parse_clock(env)
    return datetime.now(timezone.utc)


def today() -> date:
    """Today's date in Japan time."""
    return now().astimezone(LOCAL_TZ).date()


def _instant(moment: datetime | str | None) -> datetime | None:
    if isinstance(moment, str):
        return parse_clock(moment)
    if moment is not None:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LOCAL_TZ)
        return moment.astimezone(timezone.utc)
    return None


def set_now(moment: datetime | str | None) -> None:
    """Fix the clock for the whole process (None returns to KASANE_NOW or real time)."""
    global _fixed
    _fixed = _instant(moment)


@contextmanager
def fixed_at(moment: datetime | str):
    """Fix the clock for the code inside (in this thread or task only), whatever other
    threads do meanwhile; what it saw before comes back on leaving."""
    token = _section.set(_instant(moment))
    try:
        yield now()
    finally:
        _section.reset(token)


def advance(delta: timedelta) -> datetime:
    """Move a fixed clock forward (tests and behaviour specs use this)."""
    set_now(now() + delta)
    return now()
