"""Timers on the engine clock: date, duration, cycle, boundary timers, the sweep, incidents."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import clock
from engine.store import Case, Incident
from tests.conftest import MODELS


@pytest.fixture
def timers(kasane):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "timers.bpmn", MODELS / "broken_script.bpmn"])
    kasane.add_user("ito", ["担当"])
    return kasane


def counts(report: dict) -> tuple:
    """(timers fired, cases with fired timers, incidents) of a timer sweep."""
    return report["fired"], report["cases"], report["incidents"]


def names(summary):
    return sorted(t["name"] for t in summary["tasks"])


def timer_dues(summary):
    return {t["name"]: t["due"] for t in summary["timers"]}


def test_timers_are_computed_on_the_engine_clock_with_plain_iso(timers):
    case = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    assert timer_dues(case) == {
        "期日": "2025-05-01T09:00:00+09:00",          # plain ISO date-time, no quotes
        "期限": "2025-04-11T09:00:00+09:00",          # P10D from the fixed clock
        "毎日": "2025-04-02T09:00:00+09:00",          # R2/P1D
        "予定日": "2025-04-20T09:00:00+09:00",        # expression; a bare date is 09:00
    }
    with timers.transaction() as s:
        row = s.get(Case, case["case_id"])
        assert row.next_timer_at == clock.parse_instant("2025-04-02T09:00:00+09:00")


def test_nothing_fires_before_it_is_due(timers):
    case = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    clock.set_now("2025-04-02T08:59:59+09:00")
    assert counts(timers.run_timers()) == (0, 0, 0)
    assert names(timers.show_case(case["case_id"])) == sorted(["作業", "待機"])


def test_cycle_non_interrupting_and_interrupting_boundary_timers(timers):
    case = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    clock.set_now("2025-04-02T09:00:00+09:00")  # due exactly now fires
    assert counts(timers.run_timers()) == (1, 1, 0)
    shown = timers.show_case(case["case_id"])
    assert names(shown) == sorted(["作業", "リマインド", "待機"])  # non-interrupting: 待機 stays
    clock.set_now("2025-04-03T09:00:00+09:00")
    timers.run_timers()
    shown = timers.show_case(case["case_id"])
    assert names(shown) == sorted(["作業", "リマインド", "リマインド", "待機"])
    assert "毎日" not in timer_dues(shown)  # R2: two cycles only
    clock.set_now("2025-04-11T09:00:00+09:00")
    timers.run_timers()
    shown = timers.show_case(case["case_id"])
    assert "作業" not in names(shown) and "期限切れ対応" in names(shown)  # interrupting
    fired = [h["name"] for h in shown["history"] if h["kind"] == "timer_fired"]
    assert fired == ["毎日", "毎日", "期限"]


def test_a_late_sweep_fires_a_missed_cycle_once_and_every_due_timer(timers):
    case = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    clock.set_now("2025-05-02")
    report = timers.run_timers()
    assert counts(report) == (4, 1, 0)
    assert {t["name"]: t.get("skipped") for t in report["timers"]} == \
        {"毎日": 1, "期限": None, "予定日": None, "期日": None}
    shown = timers.show_case(case["case_id"])
    # Catch-up policy: the cycle's path runs once, and the skipped cycle is recorded.
    assert names(shown) == sorted(["リマインド", "待機", "期日後の作業", "期限切れ対応"])
    fired = [(h["name"], h.get("skipped")) for h in shown["history"] if h["kind"] == "timer_fired"]
    assert ("毎日", 1) in fired
    assert shown["timers"] == []


def test_a_cycle_far_behind_runs_its_path_once(kasane, tmp_path):
    clock.set_now("2025-04-01")
    text = (MODELS / "timers.bpmn").read_text(encoding="utf-8").replace("R2/P1D", "R/PT1M")
    (tmp_path / "minutely.bpmn").write_text(text, encoding="utf-8")
    kasane.deploy([tmp_path / "minutely.bpmn"])
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("timers", "ito", {"予定日": "2026-04-20"})
    clock.set_now("2025-05-01T08:00:00+09:00")  # a month of minutes behind
    report = kasane.run_timers()
    [cycle] = [t for t in report["timers"] if t["name"] == "毎日"]
    assert cycle["skipped"] > 40_000
    shown = kasane.show_case(case["case_id"])
    assert names(shown).count("リマインド") == 1
    assert [t["name"] for t in shown["timers"]][0] == "毎日"


def test_due_cases_fire_in_due_order_and_a_failing_case_records_an_incident(timers):
    broken = timers.open_case("broken", "ito")
    ok = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    clock.set_now("2025-04-02T10:00:00+09:00")
    assert counts(timers.run_timers()) == (1, 1, 1)
    assert "リマインド" in names(timers.show_case(ok["case_id"]))
    with timers.transaction() as s:
        incident = s.scalars(select(Incident)).one()
        assert incident.case_id == broken["case_id"] and incident.retry_count == 1
        assert "未定義の値" in incident.message
    shown = timers.show_case(broken["case_id"])
    assert shown["history"][-1]["kind"] == "incident"
    assert shown["timers"]  # nothing half-stored: the timer is still pending
    assert counts(timers.run_timers()) == (0, 0, 0)  # waits before trying again
    clock.set_now("2025-04-02T10:05:00+09:00")
    assert counts(timers.run_timers()) == (0, 0, 1)
    with timers.transaction() as s:
        assert [i.retry_count for i in s.scalars(select(Incident).order_by(Incident.id))] == [1, 2]
    clock.set_now("2025-04-02T10:09:00+09:00")
    assert counts(timers.run_timers()) == (0, 0, 0)  # the wait doubles: 10 minutes now
    clock.set_now("2025-04-02T10:15:00+09:00")
    assert counts(timers.run_timers()) == (0, 0, 1)
    shown = timers.show_case(broken["case_id"])
    assert [h["kind"] for h in shown["history"]].count("incident") == 1  # not one per sweep
    assert [i["retry_count"] for i in shown["incidents"]] == [1, 2, 3]


def test_kasane_now_fixes_the_clock_for_the_engine_and_spiffworkflow(timers, monkeypatch):
    monkeypatch.setenv("KASANE_NOW", "2025-04-01T12:00:00+09:00")
    clock.set_now(None)
    case = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    assert timer_dues(case)["期限"] == "2025-04-11T12:00:00+09:00"
    monkeypatch.setenv("KASANE_NOW", "2025-04-11T12:00:00+09:00")
    timers.run_timers()
    assert "期限切れ対応" in names(timers.show_case(case["case_id"]))


def test_the_sweep_fires_cases_in_due_order(timers):
    later = timers.open_case("broken", "ito")          # due 2025-04-02 09:00
    clock.set_now("2025-04-01T08:00:00+09:00")
    earlier = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})  # first due 04-02 08:00 (R2/P1D)
    with timers.transaction() as s:
        due = {c.id: c.next_timer_at for c in s.scalars(select(Case))}
    assert due[earlier["case_id"]] < due[later["case_id"]]
    clock.set_now("2025-04-03")
    timers.run_timers()
    from engine.store import HistoryEntry
    with timers.transaction() as s:
        order = [h.case_id for h in s.scalars(select(HistoryEntry).where(
            HistoryEntry.kind.in_(["timer_fired", "incident"])).order_by(HistoryEntry.id))]
    assert order[0] == earlier["case_id"] and order[-1] == later["case_id"]


def test_a_timer_expression_may_give_a_form_date(kasane):
    clock.set_now("2025-06-13")
    kasane.deploy([MODELS / "date_timer.bpmn"])
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("date_timer", "ito")
    import forms
    data = {**forms.example_values("プラン作成"), "モニタリング予定日": "2025-09-12"}
    case = kasane.complete_task(case["tasks"][0]["task_id"], "ito", data)
    assert case["stage"] == "支援実施"  # the receive task carries its own properties
    assert timer_dues(case) == {"T-monitor": "2025-09-12T09:00:00+09:00"}
    clock.set_now("2025-09-12")
    assert counts(kasane.run_timers()) == (1, 1, 0)
    assert kasane.show_case(case["case_id"])["stage"] == "モニタリング"


def test_a_receive_task_puts_the_payload_under_the_message_name(kasane):
    clock.set_now("2025-06-13")
    kasane.deploy([MODELS / "date_timer.bpmn"])
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("date_timer", "ito")
    import forms
    data = {**forms.example_values("プラン作成"), "モニタリング予定日": "2025-09-12"}
    kasane.complete_task(case["tasks"][0]["task_id"], "ito", data)
    after = kasane.send_event(case["case_id"], "連絡", "ito", {"メモ": "電話あり"})
    assert after["data"]["連絡"] == {"メモ": "電話あり"} and "メモ" not in after["data"]
    assert after["stage"] == "モニタリング" and after["timers"] == []


def test_a_case_changed_meanwhile_is_left_for_the_next_sweep(timers, monkeypatch):
    from engine import unit_of_work
    from engine.errors import Conflict
    busy = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    other = timers.open_case("timers", "ito", {"予定日": "2025-04-20"})
    real_load = unit_of_work.load_case

    def load(session, case_id):
        if int(case_id) == busy["case_id"]:
            raise Conflict("他の操作が同時にこのケースを更新しました。")
        return real_load(session, case_id)

    monkeypatch.setattr(unit_of_work, "load_case", load)
    clock.set_now("2025-04-02T10:00:00+09:00")
    assert counts(timers.run_timers()) == (1, 1, 0)
    monkeypatch.setattr(unit_of_work, "load_case", real_load)
    assert counts(timers.run_timers()) == (1, 1, 0)  # the busy case, next sweep
    assert "リマインド" in names(timers.show_case(busy["case_id"]))
    assert "リマインド" in names(timers.show_case(other["case_id"]))
