"""Deployments, cases, human tasks, events and history through the engine API."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import clock
from engine.errors import Conflict, Forbidden, InvalidInput, ModelRefused, NotFound
from engine.store import Case, Deployment, HistoryEntry, HumanTask
from tests.conftest import MODELS

COORD = "相談支援コーディネーター"
INTAKE = "包括化推進員"


@pytest.fixture
def sample(kasane):
    clock.set_now("2025-04-07")
    kasane.add_user("admin", ["管理者"])
    kasane.deploy([MODELS / "sample.bpmn"], actor="admin")
    kasane.add_user("tanaka", [COORD])
    kasane.add_user("suzuki", [INTAKE])
    return kasane


def task_named(summary, name):
    return next(t for t in summary["tasks"] if t["name"] == name)


def counts(kasane):
    with kasane.transaction() as s:
        return tuple(s.scalar(select(func.count()).select_from(m))
                     for m in (Deployment, Case, HumanTask, HistoryEntry))


def test_deploy_stores_version_and_identical_content_is_not_redeployed(kasane, tmp_path):
    kasane.add_user("admin", ["管理者"])
    kasane.add_user("kato", ["管理者"])
    first = kasane.deploy([MODELS / "sample.bpmn"], actor="admin")
    again = kasane.deploy([MODELS / "sample.bpmn"], actor="admin")
    assert first == [{"pathway": "sample", "version": 1, "new": True}]
    assert again == [{"pathway": "sample", "version": 1, "new": False}]
    with kasane.transaction() as s:
        row = s.scalars(select(Deployment)).one()
        assert row.deployed_by == "admin" and len(row.content_hash) == 64
        assert list(row.files) == ["sample.bpmn"]
    kasane.add_user("tanaka", [COORD])
    with pytest.raises(Forbidden):  # deploying needs the 管理者 role
        kasane.deploy([MODELS / "sample.bpmn"], actor="tanaka")


def test_case_stays_on_the_version_it_started_on(sample, tmp_path):
    old = sample.open_case("sample", "tanaka")
    changed = (MODELS / "sample.bpmn").read_text(encoding="utf-8").replace(
        'value="多機関協働"', 'value="受け止め"')
    (tmp_path / "sample.bpmn").write_text(changed, encoding="utf-8")
    assert sample.deploy([tmp_path / "sample.bpmn"]) == [
        {"pathway": "sample", "version": 2, "new": True}]
    new = sample.open_case("sample", "tanaka")
    assert (old["version"], old["stage"]) == (1, "多機関協働")
    assert (new["version"], new["stage"]) == (2, "受け止め")
    task = task_named(old, "受理判断")
    after = sample.complete_task(task["task_id"], "tanaka", {"判断日": "2025-04-07", "判断": "受理"})
    assert after["version"] == 1 and after["stage"] == "アセスメント"


@pytest.mark.parametrize("model, element, words", [
    ("bad/unsafe.bpmn", "f_attack", "__import__"),
    ("bad/malformed.bpmn", None, "XML"),
])
def test_models_that_will_not_run_are_refused_and_nothing_is_stored(kasane, model, element, words):
    with pytest.raises(ModelRefused) as refused:
        kasane.deploy([MODELS / model])
    problem = refused.value.problems[0]
    assert problem["element"] == element and words in problem["message"]
    assert counts(kasane) == (0, 0, 0, 0)


def test_a_missing_form_is_refused(kasane, tmp_path):
    text = (MODELS / "sample.bpmn").read_text(encoding="utf-8").replace(
        'camunda:formKey="同意確認"', 'camunda:formKey="存在しないフォーム"')
    (tmp_path / "m.bpmn").write_text(text, encoding="utf-8")
    result = kasane.lint([tmp_path / "m.bpmn"])
    assert not result["ok"]
    assert result["problems"] == [{"file": "m.bpmn", "element": "consent",
                                   "message": "フォーム '存在しないフォーム' が forms/ にありません。"}]


def test_open_case_indexes_tasks_with_role_form_due_and_timers(sample):
    case = sample.open_case("sample", "suzuki", {"相談者": "重 花子"})
    assert case["status"] == "open" and case["stage"] == "多機関協働"
    assert case["tasks"] == [{"task_id": case["tasks"][0]["task_id"], "name": "受理判断",
                              "role": COORD, "form": "受理判断",
                              "due": "2025-04-14T09:00:00+09:00", "overdue": False, "element": "decide"}]
    assert case["timers"][0]["name"] == "督促"
    assert case["timers"][0]["due"] == "2025-04-10T09:00:00+09:00"
    assert case["data"] == {"相談者": "重 花子"}
    assert sample.list_tasks(role=COORD)[0]["case_id"] == case["case_id"]
    assert sample.list_tasks(role=INTAKE) == []


def test_completing_runs_the_gateway_on_task_data_and_records_history(sample):
    case = sample.open_case("sample", "tanaka")
    decide = task_named(case, "受理判断")
    after = sample.complete_task(decide["task_id"], "tanaka",
                                 {"判断日": "2025-04-07", "判断": "差し戻し", "助言": "再相談を"})
    assert after["stage"] == "ネットワーク対応" and after["status"] == "closed"
    assert after["tasks"] == [] and after["timers"] == []
    shown = sample.show_case(case["case_id"])
    kinds = [h["kind"] for h in shown["history"]]
    assert kinds == ["opened", "task_completed"]
    completed = shown["history"][1]
    assert completed["actor"] == "tanaka" and completed["name"] == "受理判断"
    assert completed["changes"]["判断"] == "差し戻し"
    assert completed["changes"]["判断日"] == "2025-04-07"


def test_wrong_role_is_forbidden_and_nothing_changes(sample):
    case = sample.open_case("sample", "tanaka")
    before = counts(sample)
    with pytest.raises(Forbidden) as refused:
        sample.complete_task(case["tasks"][0]["task_id"], "suzuki", {"判断日": "2025-04-07", "判断": "受理"})
    assert COORD in refused.value.message
    assert counts(sample) == before
    assert sample.show_case(case["case_id"])["tasks"] == case["tasks"]


def test_invalid_form_data_gets_one_message_per_field_and_stores_nothing(sample):
    case = sample.open_case("sample", "tanaka")
    before = counts(sample)
    with pytest.raises(InvalidInput) as refused:
        sample.complete_task(case["tasks"][0]["task_id"], "tanaka",
                             {"判断": "保留", "余計": 1})
    assert refused.value.fields == {"判断日": "必須項目です。", "判断": "選択肢から選んでください。",
                                    "余計": "この項目はフォームにありません。"}
    assert counts(sample) == before
    assert sample.show_case(case["case_id"])["stage"] == "多機関協働"


def test_task_without_form_accepts_only_a_flat_object(sample):
    case = sample.open_case("sample", "tanaka")
    clock.set_now("2025-04-10T10:00:00+09:00")
    assert sweep_counts(sample.run_timers()) == (1, 1, 0)
    reminder = task_named(sample.show_case(case["case_id"]), "督促確認")
    with pytest.raises(InvalidInput) as refused:
        sample.complete_task(reminder["task_id"], "suzuki", {"メモ": {"入れ子": 1}})
    assert refused.value.fields == {"メモ": "入れ子の値は使用できません。"}
    after = sample.complete_task(reminder["task_id"], "suzuki", {"メモ": "電話済み"})
    assert [t["name"] for t in after["tasks"]] == ["受理判断"]


def counting_model(internal: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="x">
  <bpmn:process id="counting" isExecutable="true">
    <bpmn:extensionElements><camunda:properties>
      <camunda:property name="internalVariables" value="{internal}"/>
    </camunda:properties></bpmn:extensionElements>
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="{COORD}"><bpmn:flowNodeRef>check</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="count"/>
    <bpmn:scriptTask id="count" scriptFormat="python"><bpmn:script>回数 = 1
見込み = "3か月"</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="count" targetRef="check"/>
    <bpmn:userTask id="check" name="確認"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>"""


def test_working_variables_the_model_declares_stay_out_of_case_data(kasane, tmp_path):
    clock.set_now("2025-04-07")
    (tmp_path / "counting.bpmn").write_text(counting_model(" 回数, 補助 "), encoding="utf-8")
    kasane.deploy([tmp_path])
    kasane.add_user("tanaka", [COORD])
    case = kasane.open_case("counting", "tanaka", {"相談者": "重 花子"})
    assert case["data"] == {"相談者": "重 花子", "見込み": "3か月"}
    done = kasane.complete_task(case["tasks"][0]["task_id"], "tanaka", {"メモ": "確認した", "補助": "x"})
    assert done["data"] == {"相談者": "重 花子", "見込み": "3か月", "メモ": "確認した"}
    assert kasane.show_case(case["case_id"])["data"] == done["data"]


def test_a_working_variable_may_not_hide_what_a_person_enters(kasane, tmp_path):
    (tmp_path / "counting.bpmn").write_text(counting_model("回数, 判断"), encoding="utf-8")
    assert kasane.lint([tmp_path])["problems"] == [{
        "file": "counting.bpmn", "element": "counting",
        "message": "internalVariables の「判断」はフォーム「受理判断」の項目です。"
                   "利用者が入力する値は作業用の変数にできません。"}]


def test_completed_task_cannot_be_completed_again(sample):
    case = sample.open_case("sample", "tanaka")
    task_id = case["tasks"][0]["task_id"]
    sample.complete_task(task_id, "tanaka", {"判断日": "2025-04-07", "判断": "受理"})
    with pytest.raises(Conflict):
        sample.complete_task(task_id, "tanaka", {"判断日": "2025-04-07", "判断": "受理"})


def test_unknown_ids_are_not_found(sample):
    with pytest.raises(NotFound):
        sample.show_case(999)
    with pytest.raises(NotFound):
        sample.show_case("abc")
    with pytest.raises(NotFound):
        sample.complete_task("no-such-task", "tanaka", {})
    with pytest.raises(NotFound):
        sample.open_case("no-such-pathway", "tanaka")
    with pytest.raises(NotFound):
        sample.open_case("sample", "nobody")


def test_message_event_is_delivered_only_while_the_case_waits_for_it(sample):
    case = sample.open_case("sample", "tanaka")
    with pytest.raises(Conflict) as refused:
        sample.send_event(case["case_id"], "状況変化", "tanaka", {"内容": "入院"})
    assert refused.value.message == (f"ケース {case['case_id']} は段階「多機関協働」にあり、"
                                     "今は「状況変化」を記録できません。今記録できるイベントはありません。")
    with pytest.raises(NotFound):
        sample.send_event(case["case_id"], "存在しない", "tanaka", {})
    after = sample.complete_task(case["tasks"][0]["task_id"], "tanaka",
                                 {"判断日": "2025-04-07", "判断": "受理"})
    after = sample.complete_task(task_named(after, "同意確認")["task_id"], "tanaka",
                                 {"対象者": "重 花子", "同意": "あり"})
    assert after["stage"] == "支援実施"
    with pytest.raises(InvalidInput) as invalid:
        sample.send_event(case["case_id"], "状況変化", "tanaka", {"日付": "昨日"})
    assert set(invalid.value.fields) == {"日付", "内容"}
    done = sample.send_event(case["case_id"], "状況変化", "tanaka",
                             {"日付": "2025-04-08", "内容": "祖母が入院"})
    assert done["stage"] == "終結" and done["status"] == "closed"
    assert done["data"]["状況変化"] == {"日付": "2025-04-08", "内容": "祖母が入院"}
    history = sample.show_case(case["case_id"])["history"]
    assert history[-1]["kind"] == "event" and history[-1]["name"] == "状況変化"
    assert history[-1]["data"]["内容"] == "祖母が入院"


def test_users_are_unique_and_need_a_known_role_and_agency(sample):
    sample.add_agency("まるごと", "福祉まるごと相談室")
    assert sample.add_user("sato", [COORD], agency="まるごと")["agency"] == "まるごと"
    assert sample.add_user("kato", ["管理者"])["agency"] == "市福祉課"  # the city's own
    with pytest.raises(Conflict):
        sample.add_user("sato", [COORD])
    with pytest.raises(InvalidInput):
        sample.add_user("ueno", [])
    with pytest.raises(InvalidInput) as typo:
        sample.add_user("ueno", ["相談支援コーディネータ"])
    assert COORD in typo.value.fields["role"]
    with pytest.raises(InvalidInput):
        sample.add_user("ueno", [COORD], agency="存在しない機関")
    with pytest.raises(InvalidInput):
        sample.add_user("u" * 101, [COORD])


def test_due_timers_fire_when_a_case_is_next_touched_even_without_the_sweep(sample):
    case = sample.open_case("sample", "tanaka")
    clock.set_now("2025-04-11")
    after = sample.complete_task(case["tasks"][0]["task_id"], "tanaka",
                                 {"判断日": "2025-04-11", "判断": "受理"})
    assert {t["name"] for t in after["tasks"]} == {"督促確認", "同意確認"}
    kinds = [h["kind"] for h in sample.show_case(case["case_id"])["history"]]
    assert kinds == ["opened", "timer_fired", "task_completed"]


def sweep_counts(report: dict) -> tuple:
    """(timers fired, cases with fired timers, incidents) of a timer sweep."""
    return report["fired"], report["cases"], report["incidents"]
