"""The access policy on the paths the matrix cannot take without changing its world: what
writes return, minutes in every read after real writes, managers, and reads of cases
whose timers are due."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine import clock
from engine.errors import Forbidden, NotFound
from engine.store import AuditEntry, Case
from tests.policy_world import ADDRESS, MINUTES, PHONE, ROLES_SHARED, SON, household

VISIT_READS = {"氏名", "ふりがな", "住所", "電話", "対象者"}


def text(value) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def audit_rows(kasane, **where):
    with kasane.transaction() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        for name, value in where.items():
            query = query.where(getattr(AuditEntry, name) == value)
        return [(r.actor, r.action, r.allowed, r.case_id, r.member_id, r.meeting_id)
                for r in session.scalars(query)]


@pytest.fixture
def world(kasane):
    return household(kasane)


def test_minutes_reach_only_the_attendees_who_acknowledged_in_every_read(world, kasane):
    case = world.case_id
    next_meeting = world.task("支援会議記録")["task_id"]
    for user in ("kimura", "yamada"):  # the receiving agency: one not attending, one not yet acknowledged
        shown = kasane.show_case(case, user)
        assert MINUTES not in text(shown) and ROLES_SHARED not in text(shown), user
        assert "検討内容" not in shown["data"] and shown["data"]["電話"] == PHONE
        entry = next(e for e in shown["history"] if e.get("name") == "支援会議記録")
        assert "changes" not in entry and "構成員のみ" in entry["note"]
        record = next(r for r in shown["records"] if r["name"] == "支援会議記録")
        assert record["values"] is None
        assert all("議事" not in m for m in shown["meetings"] if m["basis"] == "support_meeting")
        assert MINUTES not in text(kasane.get_task(next_meeting, user))
        with pytest.raises(Forbidden):
            kasane.show_record(case, record["record_id"], user)
    # The visit worker reads whom to visit: the 同意確認 named him too, so he is not the
    # meeting's alone.
    visit = kasane.get_task(world.task("アウトリーチ訪問記録")["task_id"], "suzuki")
    assert visit["data"]["対象者"] == SON and set(visit["data"]) <= VISIT_READS
    kasane.acknowledge_meeting(world.meeting_id(), "yamada")
    shown = kasane.show_case(case, "yamada")
    assert shown["data"]["検討内容"] == MINUTES
    assert any(e.get("changes", {}).get("検討内容") == MINUTES for e in shown["history"])
    assert MINUTES in text(kasane.get_task(next_meeting, "yamada"))
    assert MINUTES in text(kasane.show_case(case, "tanaka"))  # the secretariat attends
    with pytest.raises(Forbidden):  # an attendee whose agency does not hold the case
        kasane.show_case(case, "sato")
    kasane.acknowledge_meeting(world.meeting_id(), "sato")
    assert kasane.show_record(case, world.record_id("支援会議記録"), "sato")["values"]["検討内容"] == MINUTES
    assert MINUTES in text(kasane.show_meeting(world.meeting_id(), "sato"))
    with pytest.raises(Forbidden):  # the meeting's materials, nothing else of the case
        kasane.show_case(case, "sato")


def test_writes_return_the_case_as_the_writer_may_see_it(world, kasane):
    visit = world.task("アウトリーチ訪問記録")
    through_task = world.event("接触記録", "suzuki", 日付="2025-04-08", 結果="不在・応答なし")
    assert set(through_task["data"]) <= VISIT_READS and through_task["data"]["住所"] == ADDRESS
    assert [t["task_id"] for t in through_task["tasks"]] == [visit["task_id"]]
    assert through_task["timers"] == [] and MINUTES not in text(through_task)
    done = world.complete("アウトリーチ訪問記録", "suzuki", 結果="接触できず", 次回訪問日="2025-04-21")
    assert done["data"] == {} and done["tasks"] == []  # the visit is done: nothing of the case left
    holder = world.event("接触記録", "kimura", 日付="2025-04-09", 結果="不在・応答なし")
    assert holder["data"]["電話"] == PHONE and "検討内容" not in holder["data"]
    assert MINUTES not in text(holder) and len(holder["timers"]) >= 1
    attendee = world.complete("支援会議記録", "tanaka", 合意事項=["見守り"], 検討内容="二回目の検討")
    assert attendee["data"]["検討内容"] == "二回目の検討"
    opened = kasane.open_case("jusou", "kimura")
    assert opened["tasks"][0]["name"] == "相談受付"


def test_a_holder_who_did_not_attend_gets_no_minutes_back_from_what_they_complete(world, kasane):
    """The answer to a completion reuses the access the completion was allowed on: a
    holder who did not attend the 支援会議 still gets its minutes withheld, whether the
    task records a meeting (the meetings are read again) or not."""
    kasane.add_user("nakamura", ["相談支援コーディネーター"], "まるごと")  # a holder by referral
    world.complete("アウトリーチ訪問記録", "suzuki", 結果="同意取得", 対象者=SON, 共有先=["自立相談"],
                   情報範囲=["基本情報", "支援経過"])
    assessed = world.complete("アセスメント", "nakamura")
    assert assessed["access"] == "referral" and assessed["data"]["電話"] == PHONE
    assert MINUTES not in text(assessed) and "検討内容" not in assessed["data"]
    assert MINUTES in text(kasane.show_case(world.case_id, "tanaka"))  # an attendee's answer keeps it


def test_a_manager_sees_statistics_not_case_files_unless_also_working(world, kasane):
    world.complete("アウトリーチ訪問記録", "suzuki", 結果="同意取得", 対象者=SON, 共有先=["自立相談"],
                   情報範囲=["基本情報", "支援経過"])
    assert [m["氏名"] for m in kasane.show_case(world.case_id, "sato")["household"]] == [SON]
    assert [h["氏名"] for h in kasane.search_cases("一郎", "sato")] == [SON]
    with pytest.raises(NotFound):  # same agency, named in the consent, but only 管理者
        kasane.show_case(world.case_id, "boss")
    assert kasane.search_cases("一郎", "boss") == []
    with pytest.raises(NotFound):
        kasane.show_record(world.case_id, world.record_id("アウトリーチ訪問記録"), "boss")
    kasane.add_user("boss2", ["管理者", "包括化推進員"], "自立相談")
    assert [m["氏名"] for m in kasane.show_case(world.case_id, "boss2")["household"]] == [SON]
    assert len(kasane.audit_log("boss", case_id=world.case_id)) > 0  # the statistics side


def test_a_manager_who_attends_a_meeting_does_not_open_its_materials(kasane):
    world = household(kasane, attendees=("yamada", "boss"))
    kasane.acknowledge_meeting(world.meeting_id(), "boss")
    with pytest.raises(NotFound):
        kasane.show_meeting(world.meeting_id(), "boss")
    with pytest.raises(NotFound):
        kasane.show_record(world.case_id, world.record_id("支援会議記録"), "boss")


def test_a_read_asks_the_policy_before_it_fires_due_timers(world, kasane):
    world.complete("アウトリーチ訪問記録", "suzuki", 結果="接触できず", 次回訪問日="2025-04-14")
    clock.set_now("2025-04-15")

    def version():
        with kasane.transaction() as session:
            return session.get(Case, world.case_id).version_id

    before = version()
    for refused in (lambda: kasane.show_case(world.case_id, "other"),
                    lambda: kasane.list_tasks(case_id=world.case_id, actor="other"),
                    lambda: kasane.case_diagram(world.case_id, "sato")):
        with pytest.raises((NotFound, Forbidden)):
            refused()
    assert version() == before  # nobody who may not see the case moved it
    assert "アウトリーチ訪問記録" in [t["name"] for t in kasane.show_case(world.case_id, "kimura")["tasks"]]
    assert version() > before
    assert ("（運用者）", "timers.fire") in [(r["actor"], r["action"]) for r in
                                           kasane.audit_log(case_id=world.case_id)]


def test_unknown_ids_and_refusals_leave_audit_rows(world, kasane):
    for call in (lambda: kasane.show_case(999, "other"),
                 lambda: kasane.list_tasks(case_id=999, actor="other"),
                 lambda: kasane.show_record(world.case_id, 999, "kimura"),
                 lambda: kasane.get_task("no-such-task", "other"),
                 lambda: kasane.complete_task("no-such-task", "other", {}),
                 lambda: kasane.show_meeting(999, "other"),
                 lambda: kasane.acknowledge_meeting(world.meeting_id(), "other"),
                 lambda: kasane.send_event(999, "接触記録", "other", {})):
        with pytest.raises((NotFound, Forbidden)):
            call()
    refused = [(a, action) for a, action, allowed, *_ in audit_rows(kasane, actor="other")
               if not allowed]
    assert refused == [("other", action) for action in (
        "case.show", "tasks.list", "task.show", "task.complete", "meeting.show", "meeting.ack",
        "case.event")]
    assert ("kimura", "record.show", False) in [r[:3] for r in audit_rows(kasane, actor="kimura")]
    assert audit_rows(kasane, actor="other", action="case.show")[0][3] == 999
    acks = audit_rows(kasane, action="meeting.ack")
    assert acks and all(r[3] == world.case_id and r[5] == world.meeting_id() for r in acks)


def test_meeting_reads_are_logged_per_case_and_member(world, kasane):
    kasane.show_meeting(world.meeting_id(), "tanaka")
    rows = audit_rows(kasane, actor="tanaka", action="meeting.show")
    members = {m["氏名"]: m["member_id"] for m in kasane.show_case(world.case_id)["household"]}
    assert {r[4] for r in rows} == set(members.values())
    assert all(r[3] == world.case_id and r[5] == world.meeting_id() for r in rows)
    seen_by = {(r["actor"], r["action"]) for r in kasane.audit_log(person=SON)}
    assert ("tanaka", "meeting.show") in seen_by


def test_the_timer_sweep_is_audited_for_each_case_it_moves(world, kasane):
    world.complete("アウトリーチ訪問記録", "suzuki", 結果="接触できず", 次回訪問日="2025-04-14")
    clock.set_now("2025-04-15")
    assert kasane.run_timers()["cases"] == 1
    rows = [r for r in kasane.audit_log(case_id=world.case_id) if r["action"] == "timers.fire"]
    assert [(r["actor"], r["basis"], r["detail"]) for r in rows] == [("（運用者）", "operator", "次の訪問日")]
