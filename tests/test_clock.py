"""The engine clock: a section fixed with ``fixed_at`` is its thread's own, so two threads
that fix the clock at once (the timer sweep at a given time, from a threaded web worker)
each see their own time and leave nothing frozen behind."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from engine import clock


def test_overlapping_fixed_sections_in_two_threads_each_see_their_own_time():
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with clock.fixed_at("2025-01-01"):
            first_in.set()
            second_in.wait(5)
            seen["first"] = clock.today().isoformat()
        first_out.set()

    def second():
        first_in.wait(5)
        with clock.fixed_at("2030-06-01"):
            second_in.set()
            first_out.wait(5)  # the first thread leaves while this one is still inside
            seen["second"] = clock.today().isoformat()
        seen["second_after"] = clock.now()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["first"] == "2025-01-01" and seen["second"] == "2030-06-01"
    real = datetime.now(timezone.utc)
    assert abs((seen["second_after"] - real).total_seconds()) < 60  # not left frozen
    assert abs((clock.now() - real).total_seconds()) < 60


def test_a_fixed_section_inside_a_fixed_clock_gives_the_fixed_clock_back():
    clock.set_now("2025-04-07")
    with clock.fixed_at("2025-05-01") as moment:
        assert clock.today().isoformat() == "2025-05-01" == moment.astimezone(clock.LOCAL_TZ).date().isoformat()
    assert clock.today().isoformat() == "2025-04-07"
