"""Jinja filters for what people read: dates in the Japanese way (2025年9月12日)."""
from __future__ import annotations

import datetime as dt

from flask import Flask

from engine.clock import LOCAL_TZ


def _parse(value) -> dt.date | dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    try:
        if len(str(value)) == 10:
            return dt.date.fromisoformat(str(value))
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def jdate(value, empty: str = "") -> str:
    """``2025-09-12`` or ``2025-09-12T09:00:00+09:00`` → 2025年9月12日 (Japan time). Text
    that is no date is shown as it is."""
    parsed = _parse(value)
    if parsed is None:
        return empty if value in (None, "") else str(value)
    if isinstance(parsed, dt.datetime):
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(LOCAL_TZ)
        parsed = parsed.date()
    return f"{parsed.year}年{parsed.month}月{parsed.day}日"


def jdatetime(value, empty: str = "") -> str:
    """A date-time as 2025年9月12日 09:00 (Japan time); a bare date as jdate."""
    parsed = _parse(value)
    if not isinstance(parsed, dt.datetime):
        return jdate(value, empty)
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(LOCAL_TZ)
    return f"{jdate(parsed.date())} {parsed:%H:%M}"


def init_app(app: Flask) -> None:
    app.add_template_filter(jdate)
    app.add_template_filter(jdatetime)
