"""engine/coverage.py: flows and user tasks of a process against step records."""
from __future__ import annotations

import json

import pytest

from engine import clock, coverage
from engine.errors import NotFound
from tests.conftest import MODELS

MODEL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="t">
  <bpmn:process id="p" name="テスト" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="ask"/>
    <bpmn:userTask id="ask" name="受付"/>
    <bpmn:boundaryEvent id="late" name="督促" attachedToRef="ask" cancelActivity="false">
      <bpmn:timerEventDefinition><bpmn:timeDuration>P3D</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:boundaryEvent>
    <bpmn:sequenceFlow id="f_late" sourceRef="late" targetRef="remind"/>
    <bpmn:manualTask id="remind" name="督促確認"/>
    <bpmn:sequenceFlow id="f_remind" sourceRef="remind" targetRef="end_remind"/>
    <bpmn:endEvent id="end_remind"/>
    <bpmn:sequenceFlow id="f_ask" sourceRef="ask" targetRef="gw"/>
    <bpmn:exclusiveGateway id="gw" name="判断?" default="f_no"/>
    <bpmn:sequenceFlow id="f_yes" name="受理" sourceRef="gw" targetRef="split">
      <bpmn:conditionExpression>判断 == "受理"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f_no" name="差し戻し" sourceRef="gw" targetRef="end_no"/>
    <bpmn:endEvent id="end_no" name="差し戻し"/>
    <bpmn:parallelGateway id="split"/>
    <bpmn:sequenceFlow id="f_a" sourceRef="split" targetRef="a"/>
    <bpmn:sequenceFlow id="f_b" sourceRef="split" targetRef="b"/>
    <bpmn:userTask id="a" name="A"/>
    <bpmn:userTask id="b" name="B"/>
    <bpmn:sequenceFlow id="f_a_join" sourceRef="a" targetRef="join"/>
    <bpmn:sequenceFlow id="f_b_join" sourceRef="b" targetRef="join"/>
    <bpmn:parallelGateway id="join"/>
    <bpmn:sequenceFlow id="f_join" sourceRef="join" targetRef="sub"/>
    <bpmn:subProcess id="sub" name="支援">
      <bpmn:startEvent id="sub_start"/>
      <bpmn:sequenceFlow id="f_sub1" sourceRef="sub_start" targetRef="c"/>
      <bpmn:userTask id="c" name="C"/>
      <bpmn:sequenceFlow id="f_sub2" sourceRef="c" targetRef="sub_end"/>
      <bpmn:endEvent id="sub_end"/>
    </bpmn:subProcess>
    <bpmn:sequenceFlow id="f_sub" sourceRef="sub" targetRef="end"/>
    <bpmn:endEvent id="end" name="終結"/>
  </bpmn:process>
  <bpmn:process id="other" isExecutable="true">
    <bpmn:startEvent id="o_start"/>
    <bpmn:sequenceFlow id="o_flow" sourceRef="o_start" targetRef="o_end"/>
    <bpmn:endEvent id="o_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def rec(previous, spec, process="p", state="completed"):
    return {"process_id": process, "spec_id": spec, "previous_spec_id": previous, "state": state}


@pytest.fixture
def model():
    return coverage.parse_process(MODEL, "p")


def report_for(model, records):
    return coverage.coverage_report(model, records)


def test_model_lists_flows_and_user_tasks_of_the_process_and_its_subprocesses(model):
    assert model.process_id == "p" and model.name == "テスト"
    ids = {f.id for f in model.flows}
    assert {"f_start", "f_late", "f_yes", "f_no", "f_sub1", "f_sub2", "f_sub"} <= ids
    assert "o_flow" not in ids
    assert len(model.flows) == 14
    assert [t.id for t in model.tasks] == ["ask", "remind", "a", "b", "c"]
    assert model.containers == {"p", "sub"}
    flow = next(f for f in model.flows if f.id == "f_sub1")
    assert (flow.source, flow.target, flow.container) == ("sub_start", "c", "sub")


def test_other_processes_and_missing_ones():
    assert coverage.parse_process(MODEL, "nope") is None
    assert [f.id for f in coverage.parse_process(MODEL, "other").flows] == ["o_flow"]
    with pytest.raises(NotFound):
        coverage.find_process({"a.dmn": "<x/>", "m.bpmn": MODEL}, "nope")
    assert coverage.find_process({"a.dmn": "<not xml", "m.bpmn": MODEL}, "p").process_id == "p"


def test_a_flow_is_taken_only_by_a_record_from_its_source_to_its_target(model):
    report = report_for(model, [rec(None, "start"), rec("start", "ask"), rec("ask", "gw"),
                                rec("gw", "end_no")])
    flows = report["flows"]
    assert report["pathway"] == "p"
    assert flows["total"] == 14 and flows["taken"] == 3
    assert "f_no" not in flows["missing"] and "f_yes" in flows["missing"]
    # the same target reached from elsewhere does not take the flow
    report = report_for(model, [rec("start", "end_no")])
    assert "f_no" in report["flows"]["missing"]


def test_records_of_another_process_do_not_count(model):
    report = report_for(model, [rec("start", "ask", process="other")])
    assert report["flows"]["taken"] == 0
    assert report["tasks"]["reached"] == 0


def test_gateway_branches_are_separate_flows(model):
    report = report_for(model, [rec("gw", "split")])
    assert "f_yes" not in report["flows"]["missing"]
    assert "f_no" in report["flows"]["missing"]


def test_boundary_event_flow(model):
    report = report_for(model, [rec("start", "ask"), rec("start", "late"), rec("late", "remind")])
    missing = report["flows"]["missing"]
    assert "f_late" not in missing
    assert "f_remind" in missing
    assert "remind" not in report["tasks"]["missing"]  # a manual task counts as a user task


def test_parallel_join_that_fired_takes_every_incoming_flow(model):
    # the step log names one incoming flow as the join's previous element
    fired = report_for(model, [rec("split", "a"), rec("split", "b"), rec("b", "join")])
    assert "f_a_join" not in fired["flows"]["missing"]
    assert "f_b_join" not in fired["flows"]["missing"]
    # a join only waiting (one token in) does not take the other flow
    waiting = report_for(model, [rec("a", "join", state="waiting")])
    assert "f_a_join" not in waiting["flows"]["missing"]
    assert "f_b_join" in waiting["flows"]["missing"]


def test_flows_inside_an_embedded_subprocess_use_its_process_id(model):
    report = report_for(model, [rec("sub_start", "c", process="sub"), rec("c", "sub_end", process="sub"),
                                rec("sub", "end")])
    missing = report["flows"]["missing"]
    assert "f_sub1" not in missing and "f_sub2" not in missing and "f_sub" not in missing


def test_tasks_reached_and_missing_with_names(model):
    report = report_for(model, [rec("start", "ask"), rec("split", "a", state="waiting")])
    tasks = report["tasks"]
    assert tasks["total"] == 5 and tasks["reached"] == 2
    assert tasks["missing"] == ["remind", "b", "c"]
    assert tasks["missing_detail"][0] == {"id": "remind", "name": "督促確認"}
    assert report["complete"] is False


def test_complete_report_and_text(model):
    all_steps = [rec(f.source, f.target, process=f.container) for f in model.flows]
    report = report_for(model, all_steps)
    assert report["flows"]["missing"] == [] and report["tasks"]["missing"] == []
    assert report["complete"] is True
    assert coverage.render_text(report) == "p: シーケンスフロー 14/14 (100%)、ユーザータスク 5/5 (100%)"
    partial = report_for(model, [rec("start", "ask")])
    text = coverage.render_text(partial)
    assert text.splitlines()[0] == "p: シーケンスフロー 1/14 (7%)、ユーザータスク 1/5 (20%)"
    assert "  f_no: 判断? → 差し戻し [差し戻し]" in text
    assert "  c: C" in text


def test_dumps_round_trip_with_headers(tmp_path):
    records = [rec(None, "start"), rec("start", "ask", state="waiting")]
    coverage.write_dump(tmp_path / "run" / "w1.jsonl", records, {"feature": "a.feature", "scenario": "S"})
    coverage.write_dump(tmp_path / "run" / "sub" / "w2.jsonl", [rec("ask", "gw")])
    (tmp_path / "run" / "pid").write_text("1")
    assert coverage.read_dumps(tmp_path / "run" / "w1.jsonl") == records
    assert coverage.read_dumps(tmp_path / "run") == [rec("ask", "gw"), *records]  # sorted by path
    assert coverage.read_dump_headers(tmp_path / "run") == [{"feature": "a.feature", "scenario": "S"}]
    lines = (tmp_path / "run" / "w1.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {"header": {"feature": "a.feature", "scenario": "S"}}
    with pytest.raises(NotFound):
        coverage.read_dumps(tmp_path / "missing")


def test_records_without_state_count_as_completed(model):
    records = [{"process_id": "p", "spec_id": "join", "previous_spec_id": "b"}]
    assert "f_a_join" not in report_for(model, records)["flows"]["missing"]


def test_step_log_of_real_cases(kasane):
    """The engine's step log on tests/models/sample.bpmn: gateway, boundary timer, open task."""
    clock.set_now("2025-04-07")
    kasane.deploy([str(MODELS / "sample.bpmn")])
    kasane.add_user("coord", ["相談支援コーディネーター", "包括化推進員"])
    returned = kasane.open_case("sample", "coord")
    task = kasane.list_tasks(case_id=returned["case_id"])[0]
    kasane.complete_task(task["task_id"], "coord", {"判断日": "2025-04-07", "判断": "差し戻し"})
    accepted = kasane.open_case("sample", "coord")
    clock.set_now("2025-04-11")
    kasane.run_timers()  # the non-interrupting 督促 after 3 days
    decide = next(t for t in kasane.list_tasks(case_id=accepted["case_id"]) if t["name"] == "受理判断")
    kasane.complete_task(decide["task_id"], "coord", {"判断日": "2025-04-11", "判断": "受理"})
    model = coverage.find_process(coverage.read_model_dir(MODELS / "sample.bpmn"), "sample")
    with kasane.transaction() as session:
        finished = coverage.database_records(session, include_pending=False)
        everything = coverage.database_records(session)
        only_other = coverage.database_records(session, process_ids=["other"])
    assert only_other == []
    assert coverage.coverage_report(model, finished)["flows"]["missing"] == [
        "f_reminder", "f_reminder_end", "f_accept", "f_consent", "f_change"]
    # 同意確認 and 督促確認 are open: their incoming flows count once waiting elements are added
    assert {"f_reminder", "f_accept"}.isdisjoint(coverage.coverage_report(model, everything)["flows"]["missing"])
    report = coverage.coverage_report(model, everything)
    assert report["flows"]["missing"] == ["f_reminder_end", "f_consent", "f_change"]
    assert report["tasks"]["missing"] == []
    assert {r["state"] for r in everything} == {"completed", "waiting"}


def test_called_processes_are_listed_once():
    xml = """<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="t">
      <bpmn:process id="main" isExecutable="true">
        <bpmn:callActivity id="c1" calledElement="child"/>
        <bpmn:subProcess id="s"><bpmn:callActivity id="c2" calledElement="child"/>
          <bpmn:callActivity id="c3" calledElement="other"/></bpmn:subProcess>
      </bpmn:process>
    </bpmn:definitions>"""
    assert coverage.parse_process(xml, "main").called == ["child", "other"]


def test_a_folder_without_dumps_is_an_error(tmp_path):
    (tmp_path / "pid").write_text("1")
    with pytest.raises(NotFound, match="ステップ記録"):
        coverage.read_dumps(tmp_path)
