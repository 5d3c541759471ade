"""DMN decisions: business rule tasks, validation rules that refuse a completion, and
unsafe DMN cells refused at deploy time."""
from __future__ import annotations

import pytest

from engine import clock
from engine.errors import InvalidInput, ModelRefused
from tests.conftest import MODELS


@pytest.fixture
def rules(kasane):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "rules.bpmn", MODELS / "rules.dmn", MODELS / "rules_defaults.dmn"])
    kasane.add_user("ito", ["担当"])
    return kasane


def test_business_rule_task_writes_its_outputs_into_case_data(rules):
    case = rules.open_case("rules", "ito")
    assert case["data"]["間隔"] == "P3M"


def test_validation_rule_refuses_with_its_message_and_stores_nothing(rules):
    case = rules.open_case("rules", "ito")
    task_id = case["tasks"][0]["task_id"]
    with pytest.raises(InvalidInput) as refused:
        rules.complete_task(task_id, "ito", {"種別": "中断", "日数": 29})
    assert refused.value.message == "中断の基準を満たしていません: 最終接触から29日です（90日以上が必要）。"
    assert rules.show_case(case["case_id"])["tasks"][0]["task_id"] == task_id
    done = rules.complete_task(task_id, "ito", {"種別": "中断", "日数": 95})
    assert done["status"] == "closed"


def test_a_deployment_carries_only_the_files_its_pathway_needs(kasane):
    deployed = kasane.deploy([MODELS / "rules.bpmn", MODELS / "rules.dmn", MODELS / "rules_defaults.dmn", MODELS / "loop.bpmn"])
    assert {d["pathway"] for d in deployed} == {"rules", "loop"}
    from engine.store import Deployment
    from sqlalchemy import select
    with kasane.transaction() as s:
        files = {d.pathway: sorted(d.files) for d in s.scalars(select(Deployment))}
    assert files == {"rules": ["rules.bpmn", "rules.dmn", "rules_defaults.dmn"], "loop": ["loop.bpmn"]}


@pytest.mark.parametrize("cell, reason", [
    ("<text>__import__('os')</text>", "__import__"),
    ("<text>&lt; ().__class__</text>", "__class__"),
])
def test_unsafe_dmn_cells_are_refused_with_the_element(kasane, tmp_path, cell, reason):
    text = (MODELS / "rules.dmn").read_text(encoding="utf-8").replace(
        "<text>&lt; 90</text>", cell)
    (tmp_path / "rules.dmn").write_text(text, encoding="utf-8")
    for name in ("rules.bpmn", "rules_defaults.dmn"):
        (tmp_path / name).write_text((MODELS / name).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ModelRefused) as refused:
        kasane.deploy([tmp_path])
    [problem] = refused.value.problems
    assert problem["file"] == "rules.dmn" and problem["element"] == "too_early_days"
    assert reason in problem["message"]


def test_a_dmn_file_with_two_decisions_is_refused(kasane, tmp_path):
    one = (MODELS / "rules.dmn").read_text(encoding="utf-8")
    other = (MODELS / "rules_defaults.dmn").read_text(encoding="utf-8")
    decision = other[other.index("  <decision"):other.index("</definitions>")]
    (tmp_path / "both.dmn").write_text(one.replace("</definitions>", decision + "</definitions>"),
                                       encoding="utf-8")
    result = kasane.lint([tmp_path / "both.dmn"])
    assert result["problems"][0]["file"] == "both.dmn"
    assert "decision は1つ" in result["problems"][0]["message"]


def test_a_missing_validation_decision_is_refused(kasane, tmp_path):
    (tmp_path / "rules.bpmn").write_text((MODELS / "rules.bpmn").read_text(encoding="utf-8")
                                         .replace('value="proposal_check"', 'value="nothing"'),
                                         encoding="utf-8")
    for name in ("rules.dmn", "rules_defaults.dmn"):
        (tmp_path / name).write_text((MODELS / name).read_text(encoding="utf-8"), encoding="utf-8")
    result = kasane.lint([tmp_path])
    assert result["problems"] == [{"file": "rules.bpmn", "element": "propose",
                                   "message": "検証ルール (DMN) 'nothing' がありません。"}]


def lint_process(kasane, tmp_path, body: str, messages: str = "") -> list:
    """Lint a one-process model whose start event `s` and end event `e` frame body."""
    (tmp_path / "m.bpmn").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  {messages}
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    {body}
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""", encoding="utf-8")
    return kasane.lint([tmp_path])["problems"]


def test_event_based_gateways_are_refused_with_the_reason(kasane, tmp_path):
    problems = lint_process(kasane, tmp_path, """
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="g"/>
    <bpmn:eventBasedGateway id="g"/>
    <bpmn:sequenceFlow id="f2" sourceRef="g" targetRef="c"/>
    <bpmn:intermediateCatchEvent id="c"><bpmn:messageEventDefinition messageRef="m1"/></bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="f3" sourceRef="c" targetRef="e"/>""",
                            messages='<bpmn:message id="m1" name="連絡"/>')
    assert [(p["element"], "イベントベースゲートウェイ" in p["message"]) for p in problems] == \
        [("g", True)]


def test_a_business_rule_task_without_a_decision_is_a_problem_not_a_crash(kasane, tmp_path):
    problems = lint_process(kasane, tmp_path, """
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="rule"/>
    <bpmn:businessRuleTask id="rule" name="判定"/>
    <bpmn:sequenceFlow id="f2" sourceRef="rule" targetRef="e"/>""")
    assert [(p["element"], "decisionRef" in p["message"]) for p in problems] == \
        [("rule", True)]


SHORT_CHECK = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Defs_short" name="短い中断" namespace="http://kasane.example/tests">
  <decision id="short_check" name="短い中断">
    <decisionTable id="short_table" hitPolicy="COLLECT">
      <input id="in_kind" label="種別"><inputExpression id="in_kind_expr" typeRef="string"><text>種別</text></inputExpression></input>
      <input id="in_days" label="日数"><inputExpression id="in_days_expr" typeRef="integer"><text>日数</text></inputExpression></input>
      <output id="out_error" label="エラー" name="エラー" typeRef="string"/>
      <rule id="under_30">
        <inputEntry id="under_30_kind"><text>"中断"</text></inputEntry>
        <inputEntry id="under_30_days"><text>&lt; 30</text></inputEntry>
        <outputEntry id="under_30_out"><text>"30日未満では中断を検討できません。"</text></outputEntry>
      </rule>
      <rule id="under_60">
        <inputEntry id="under_60_kind"><text>"中断"</text></inputEntry>
        <inputEntry id="under_60_days"><text>&lt; 60</text></inputEntry>
        <outputEntry id="under_60_out"><text>"60日未満です。"</text></outputEntry>
      </rule>
    </decisionTable>
  </decision>
</definitions>
"""


def two_rule_models(tmp_path, value: str):
    (tmp_path / "rules.bpmn").write_text((MODELS / "rules.bpmn").read_text(encoding="utf-8")
                                         .replace('value="proposal_check"', f'value="{value}"'),
                                         encoding="utf-8")
    for name in ("rules.dmn", "rules_defaults.dmn"):
        (tmp_path / name).write_text((MODELS / name).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "short.dmn").write_text(SHORT_CHECK, encoding="utf-8")
    return tmp_path


def test_a_validation_property_may_name_several_decisions_and_all_of_them_speak(kasane, tmp_path):
    clock.set_now("2025-04-01")
    kasane.deploy([two_rule_models(tmp_path, "proposal_check, short_check")])
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("rules", "ito")
    task_id = case["tasks"][0]["task_id"]
    with pytest.raises(InvalidInput) as refused:
        kasane.complete_task(task_id, "ito", {"種別": "中断", "日数": 29})
    # every decision is evaluated, in the order the property names them; COLLECT rules too
    assert refused.value.message == ("中断の基準を満たしていません: 最終接触から29日です（90日以上が必要）。"
                                     " 30日未満では中断を検討できません。 60日未満です。")
    with pytest.raises(InvalidInput) as refused:
        kasane.complete_task(task_id, "ito", {"種別": "中断", "日数": 50})
    assert refused.value.message == "中断の基準を満たしていません: 最終接触から50日です（90日以上が必要）。 60日未満です。"
    assert kasane.complete_task(task_id, "ito", {"種別": "中断", "日数": 95})["status"] == "closed"


def test_every_decision_a_validation_property_names_must_be_deployed(kasane, tmp_path):
    result = kasane.lint([two_rule_models(tmp_path, "proposal_check, nothing ,short_check, missing")])
    assert result["problems"] == [
        {"file": "rules.bpmn", "element": "propose", "message": "検証ルール (DMN) 'nothing' がありません。"},
        {"file": "rules.bpmn", "element": "propose", "message": "検証ルール (DMN) 'missing' がありません。"},
    ]


def test_the_pathways_name_their_rule_decisions():
    from engine import modelcheck
    from lxml import etree
    from tests.conftest import ROOT

    tree = etree.parse(str(ROOT / "workflows" / "jusou.bpmn"))
    [monitoring] = tree.xpath("//bpmn:userTask[@id='monitoring']", namespaces=modelcheck.NS)
    [value] = monitoring.xpath(".//camunda:property[@name='validation']/@value", namespaces=modelcheck.NS)
    assert modelcheck.validation_refs(value) == ["suspension_criteria", "monitoring_rules"]
    assert {"suspension_criteria", "monitoring_rules", "closure_rules", "default_intervals"} <= \
        modelcheck.decisions_used(tree.getroot())
