"""Clock steps. Every step that moves the clock fires the timers that fall due.

Moving forward goes from one due timer to the next, so each timer fires at its own due
time and whatever it starts (a task with a due date, a further timer) counts from then.
"""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta

import pytest
from pytest_bdd import given, parsers, when
from sqlalchemy import func, select

from engine import clock
from engine.store import Case, Incident

from tests.steps.context import ScenarioContext


def parse_moment(text: str) -> datetime:
    try:
        return clock.parse_instant(text)
    except ValueError:
        pytest.fail(f"日時 {text!r} は ISO 8601 の日付か日時で書いてください（例: 2025-04-07, "
                    f"2025-04-07T13:30）。", pytrace=False)


def add_months(moment: datetime, months: int) -> datetime:
    """Calendar months in Japan time, keeping the time of day; the 31st clamps to month end."""
    local = moment.astimezone(clock.LOCAL_TZ)
    index = local.year * 12 + (local.month - 1) + months
    year, month = divmod(index, 12)
    day = min(local.day, calendar.monthrange(year, month + 1)[1])
    return local.replace(year=year, month=month + 1, day=day)


def _next_timer(kasane) -> datetime | None:
    with kasane.transaction() as session:
        return session.scalar(select(func.min(Case.next_timer_at)))


def _fire(kasane) -> None:
    result = kasane.run_timers()
    if result["incidents"]:
        with kasane.transaction() as session:
            messages = list(session.scalars(select(Incident.message)
                                            .where(Incident.resolved_at.is_(None))))
        pytest.fail(f"タイマーの実行がエラーになりました（{clock.now().isoformat()}）: "
                    + " / ".join(messages), pytrace=False)


def move_clock(kasane, target: datetime) -> None:
    """Set the clock to target, firing due timers in due order on the way."""
    if target > clock.now():
        for _ in range(10_000):
            due = _next_timer(kasane)
            if due is None or due > target or due <= clock.now():
                break
            clock.set_now(due)
            _fire(kasane)
    clock.set_now(target)
    _fire(kasane)


def _not_backwards(amount: int) -> None:
    if amount < 0:
        pytest.fail("時計を戻すことはできません。経過は 0 以上で書いてください。", pytrace=False)


@given(parsers.parse('現在日時は "{moment}" である'))
def clock_is(scenario_context: ScenarioContext, moment: str) -> None:
    move_clock(scenario_context.kasane, parse_moment(moment))


@given(parsers.parse('現在日時が "{moment}" になる'))
@when(parsers.parse('現在日時が "{moment}" になる'))
def clock_becomes(scenario_context: ScenarioContext, moment: str) -> None:
    target = parse_moment(moment)
    if target < clock.now():
        pytest.fail(f"時計を戻すことはできません: 現在 {clock.now().astimezone(clock.LOCAL_TZ).isoformat()}"
                    f"、指定 {moment}", pytrace=False)
    move_clock(scenario_context.kasane, target)


@given(parsers.parse("{days:d} 日が経過する"))
@when(parsers.parse("{days:d} 日が経過する"))
def days_pass(scenario_context: ScenarioContext, days: int) -> None:
    _not_backwards(days)
    move_clock(scenario_context.kasane, clock.now() + timedelta(days=days))


@given(parsers.parse("{months:d} か月が経過する"))
@when(parsers.parse("{months:d} か月が経過する"))
def months_pass(scenario_context: ScenarioContext, months: int) -> None:
    _not_backwards(months)
    move_clock(scenario_context.kasane, add_months(clock.now(), months))
