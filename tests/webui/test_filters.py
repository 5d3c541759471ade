"""Dates as people read them."""
from __future__ import annotations

import datetime as dt

from webui.filters import jdate, jdatetime


def test_dates_read_the_japanese_way():
    assert jdate("2025-09-12") == "2025年9月12日"
    assert jdate(dt.date(2025, 4, 7)) == "2025年4月7日"
    assert jdate("2025-09-12T00:30:00+00:00") == "2025年9月12日"  # 09:30 in Japan
    assert jdate("2025-09-11T16:00:00+00:00") == "2025年9月12日"  # past midnight in Japan
    assert jdatetime("2025-09-12T00:30:00+00:00") == "2025年9月12日 09:30"
    assert jdatetime("2025-09-12") == "2025年9月12日"


def test_what_is_no_date_stays_as_it_is():
    assert jdate(None) == "" and jdate("", "未定") == "未定"
    assert jdate("来週") == "来週"
    assert jdatetime(None, "—") == "—"
