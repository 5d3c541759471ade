"""The unit of work: reads see fired timers, the sweep claims its cases, and a runaway
case becomes an incident while every other case fires."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from engine import clock
from engine.api import Kasane
from engine.store import Case, HistoryEntry, Incident
from tests.conftest import MODELS, at_once


@pytest.fixture
def due_soon(kasane):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "due_soon.bpmn"])
    kasane.add_user("ito", ["担当"])
    return kasane


def task_names(summary_or_tasks):
    tasks = summary_or_tasks["tasks"] if isinstance(summary_or_tasks, dict) else summary_or_tasks
    return [t["name"] for t in tasks]


def test_a_read_fires_the_timers_that_are_due(due_soon):
    case = due_soon.open_case("due_soon", "ito", {"暴走": False, "回数": 0})
    assert case["timers"] and task_names(case) == []
    clock.set_now("2025-04-02T09:00:00+09:00")
    # No sweep has run: the reads themselves fire what is due.
    assert task_names(due_soon.list_tasks(case_id=case["case_id"])) == ["確認"]
    shown = due_soon.show_case(case["case_id"])
    assert task_names(shown) == ["確認"] and shown["timers"] == [] and shown["stage"] == "確認"
    other = due_soon.open_case("due_soon", "ito", {"暴走": False, "回数": 0})
    clock.set_now("2025-04-03T09:00:00+09:00")
    assert [t["case_id"] for t in due_soon.list_tasks(role="担当")] == [case["case_id"], other["case_id"]]


def test_run_timers_fires_by_the_time_it_is_given(due_soon):
    case = due_soon.open_case("due_soon", "ito", {"暴走": False, "回数": 0})
    report = due_soon.run_timers(clock.parse_instant("2025-04-02T09:00:00+09:00"))
    assert (report["fired"], report["cases"]) == (1, 1)
    assert clock.now() == clock.parse_instant("2025-04-01")  # the engine clock is untouched
    assert task_names(due_soon.show_case(case["case_id"])) == ["確認"]


def test_a_runaway_case_is_an_incident_and_every_other_due_case_fires(due_soon, set_limits):
    set_limits(max_engine_steps=300)
    runaway = due_soon.open_case("due_soon", "ito", {"暴走": True, "回数": 0})
    others = [due_soon.open_case("due_soon", "ito", {"暴走": False, "回数": 0})["case_id"]
              for _ in range(200)]
    report = due_soon.run_timers(clock.parse_instant("2025-04-02T10:00:00+09:00"))
    assert (report["cases"], report["incidents"]) == (200, 1)
    with due_soon.transaction() as s:
        incident = s.scalars(select(Incident)).one()
        stuck = s.get(Case, runaway["case_id"])
        assert incident.case_id == runaway["case_id"] and incident.element == "spin"
        assert "待ち状態" in incident.message
        assert stuck.timers and stuck.data["回数"] == 0  # rolled back: nothing half-stored
        waiting = s.scalar(select(func.count(Case.id)).where(Case.id.in_(others),
                                                              Case.next_timer_at.is_not(None)))
        assert waiting == 0


def test_a_failing_step_is_refused_whole_and_shows_as_an_incident(due_soon, set_limits):
    set_limits(max_engine_steps=300)
    case = due_soon.open_case("due_soon", "ito", {"暴走": True, "回数": 0})
    clock.set_now("2025-04-02T10:00:00+09:00")
    shown = due_soon.show_case(case["case_id"])  # the read fires, fails, and still answers
    assert shown["timers"] and [i["element"] for i in shown["incidents"]] == ["spin"]
    assert shown["data"]["回数"] == 0


def test_two_sweep_workers_split_the_due_cases(due_soon, database_url):
    ids = [due_soon.open_case("due_soon", "ito", {"暴走": False, "回数": 0})["case_id"]
           for _ in range(60)]
    moment = clock.parse_instant("2025-04-02T10:00:00+09:00")
    workers = [Kasane(database_url), Kasane(database_url)]
    reports = at_once(*(lambda api=api: api.run_timers(moment) for api in workers))
    for api in workers:
        api.close()
    assert sum(r["cases"] for r in reports) == len(ids)  # each case swept by one worker
    with due_soon.transaction() as s:
        fired = s.scalar(select(func.count(HistoryEntry.id)).where(HistoryEntry.kind == "timer_fired"))
    assert fired == len(ids)


def test_a_read_does_not_wait_for_a_writer_on_sqlite(due_soon, database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock")
    case = due_soon.open_case("due_soon", "ito", {"暴走": False, "回数": 0})
    reader = Kasane(database_url)
    shown = []
    with due_soon.transaction() as s:
        s.execute(text("UPDATE cases SET updated_at = updated_at"))  # holds the write lock
        thread = threading.Thread(target=lambda: shown.append(reader.show_case(case["case_id"])))
        thread.start()
        thread.join(timeout=10)
        assert shown and shown[0]["case_id"] == case["case_id"]
    reader.close()


def test_two_reads_at_once_fire_a_due_timer_once_and_both_answer(due_soon, database_url):
    """Both reads find the timer due and fire it; the task it opens has the same id in both.
    The later one must lose at the case's version (and show the case as the first left it),
    not at the task index with an error."""
    readers = [Kasane(database_url), Kasane(database_url)]
    cases = [due_soon.open_case("due_soon", "ito", {"暴走": False, "回数": 0})["case_id"]
             for _ in range(8)]  # several rounds, so a lucky interleaving cannot pass by chance
    clock.set_now("2025-04-02T09:00:00+09:00")
    for case_id in cases:
        shown = at_once(*(lambda api=api: api.show_case(case_id) for api in readers))
        assert [task_names(s) for s in shown] == [["確認"], ["確認"]], shown
        with due_soon.transaction() as s:
            fired = s.scalar(select(func.count(HistoryEntry.id)).where(
                HistoryEntry.case_id == case_id, HistoryEntry.kind == "timer_fired"))
        assert fired == 1
    for api in readers:
        api.close()
