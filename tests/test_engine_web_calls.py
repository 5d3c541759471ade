"""Engine calls the web pages make: the first task of a pathway, a new consultation opened
and completed in one transaction, and a task as its form page reads it (draft, overdue)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

import forms
from engine import clock
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.store import AuditEntry, Case, Draft, HistoryEntry, HumanTask, Incident
from tests.conftest import MODELS, ROOT

INTAKE = "包括化推進員"
COORD = "相談支援コーディネーター"


@pytest.fixture
def world(kasane):
    clock.set_now("2025-04-07")
    kasane.deploy([ROOT / "workflows"])
    kasane.add_agency("包括センター", "地域包括支援センター")
    kasane.add_agency("相談室", "福祉まるごと相談室")
    kasane.add_user("yamada", [INTAKE], "包括センター")
    kasane.add_user("tanaka", [COORD], "相談室")
    return kasane


def rows(kasane, model) -> int:
    with kasane.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_the_first_task_is_read_from_the_model(world):
    assert world.first_task("jusou") == {"element": "intake", "name": "相談受付",
                                         "form": "相談受付", "role": INTAKE}
    world.deploy([MODELS / "sample.bpmn"])
    first = world.first_task("sample")
    assert first["form"] is None or first["form"] in forms.FORMS
    with pytest.raises(NotFound, match="デプロイされていません"):
        world.first_task("nothing")


def test_a_new_consultation_opens_the_case_and_completes_its_first_task(world):
    data = forms.example_values("相談受付") | {"対応": "多機関協働"}
    case = world.open_case_and_complete_first_task("jusou", "yamada", data)
    assert case["stage"] == "多機関協働"
    assert [t["name"] for t in case["tasks"]] == ["受理判断"]
    assert case["data"]["氏名"] == "重 花子"
    kinds = [e["kind"] for e in world.show_case(case["case_id"], actor="yamada")["history"]]
    assert kinds[:1] == ["opened"] and "task_completed" in kinds
    actions = {(e["action"], e["allowed"], e["case_id"]) for e in world.audit_log()}
    assert {("case.open", True, case["case_id"]), ("task.complete", True, case["case_id"])} <= actions


def test_a_refused_form_leaves_no_case(world):
    data = forms.example_values("相談受付") | {"受付日": "2025-02-30"}
    del data["氏名"]
    with pytest.raises(InvalidInput) as refused:
        world.open_case_and_complete_first_task("jusou", "yamada", data)
    assert set(refused.value.fields) == {"受付日", "氏名"}
    assert (rows(world, Case), rows(world, HumanTask), rows(world, HistoryEntry)) == (0, 0, 0)


def test_a_user_without_the_tasks_role_opens_no_case(world):
    with pytest.raises(Forbidden, match="包括化推進員"):
        world.open_case_and_complete_first_task("jusou", "tanaka", forms.example_values("相談受付"))
    assert rows(world, Case) == 0
    with world.transaction() as session:
        refused = session.scalars(select(AuditEntry).where(AuditEntry.action == "case.open")).one()
    assert (refused.actor, refused.allowed, refused.case_id) == ("tanaka", False, None)


FAILS_AFTER_INTAKE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="D" targetNamespace="http://kasane.example/tests">
  <bpmn:process id="fails" name="受付のあとで失敗" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane" name="包括化推進員">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>intake</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>fail</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="intake"/>
    <bpmn:userTask id="intake" name="相談受付" camunda:formKey="相談受付"/>
    <bpmn:sequenceFlow id="f2" sourceRef="intake" targetRef="fail"/>
    <bpmn:scriptTask id="fail" name="失敗する処理"><bpmn:script>結果 = 未定義の値 + 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="fail" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_model_failure_after_opening_rolls_the_case_back(world, tmp_path):
    (tmp_path / "fails.bpmn").write_text(FAILS_AFTER_INTAKE, encoding="utf-8")
    world.deploy([tmp_path / "fails.bpmn"])
    with pytest.raises(InvalidInput, match="未定義の値"):
        world.open_case_and_complete_first_task("fails", "yamada", forms.example_values("相談受付"))
    assert [rows(world, m) for m in (Case, HumanTask, HistoryEntry, Incident)] == [0, 0, 0, 0]


def test_the_task_page_reads_the_users_draft_and_whether_it_is_overdue(world):
    case = world.open_case_and_complete_first_task("jusou", "yamada", forms.example_values("相談受付"))
    task_id = case["tasks"][0]["task_id"]
    shown = world.get_task(task_id, actor="tanaka")
    assert (shown["draft"], shown["overdue"], shown["may_complete"]) == (None, False, True)
    world.save_draft(task_id, "tanaka", {"判断": "受理", "理由": "途中まで"})
    draft = world.get_task(task_id, actor="tanaka")["draft"]
    assert draft["values"] == {"判断": "受理", "理由": "途中まで"}
    assert draft["saved_at"].startswith("2025-04-07T09:00")



def test_completing_a_task_discards_its_drafts_and_resolves_open_incidents(world):
    case = world.open_case_and_complete_first_task("jusou", "yamada",
                                                   forms.example_values("相談受付") | {"対応": "多機関協働"})
    task_id = case["tasks"][0]["task_id"]
    world.save_draft(task_id, "tanaka", {"判断": "受理"})
    with world.transaction() as session:  # as a failed step before would have left it
        session.add(Incident(case_id=case["case_id"], at=clock.now(), message="前の失敗", retry_count=1))
    world.complete_task(task_id, "tanaka", forms.example_values("受理判断") | {"判断": "受理"})
    assert rows(world, Draft) == 0
    with world.transaction() as session:
        assert session.scalar(select(Incident.resolved_at)) is not None
    assert world.show_case(case["case_id"], actor="tanaka")["incidents"] == []