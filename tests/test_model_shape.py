"""Lint refuses models of the wrong shape, each with the element, and warns of lanes that
nobody holds; the reference models of other tools all end in a result, never a crash."""
from __future__ import annotations


import pytest
from lxml import etree

from engine import clock, deployments
from tests.conftest import MODELS

MIWG = MODELS / "miwg"  # the BPMN MIWG reference models (NOTICE.md there), kept in the repository
LOOP = (MODELS / "loop.bpmn").read_text(encoding="utf-8")


def lint_text(kasane, tmp_path, text, name="m.bpmn"):
    (tmp_path / name).write_text(text, encoding="utf-8")
    return kasane.lint([tmp_path / name])


def messages(result):
    return {(p["element"], p["message"]) for p in result["problems"]}


def test_a_gateway_flow_without_a_condition_or_default_is_refused(kasane, tmp_path):
    text = LOOP.replace('<bpmn:exclusiveGateway id="gw" default="f_again"/>',
                        '<bpmn:exclusiveGateway id="gw" name="続ける？"/>')
    [(element, message)] = messages(lint_text(kasane, tmp_path, text))
    assert element == "f_again" and "条件も既定のフローの印もありません" in message and "続ける？" in message


def test_an_unreachable_element_is_refused(kasane, tmp_path):
    text = LOOP.replace('<bpmn:endEvent id="end">',
                        '<bpmn:userTask id="lost" name="迷子"/><bpmn:sequenceFlow id="f_lost" '
                        'sourceRef="lost" targetRef="end"/><bpmn:endEvent id="end">').replace(
        '<bpmn:flowNodeRef>review</bpmn:flowNodeRef>',
        '<bpmn:flowNodeRef>review</bpmn:flowNodeRef><bpmn:flowNodeRef>lost</bpmn:flowNodeRef>')
    [(element, message)] = messages(lint_text(kasane, tmp_path, text))
    assert element == "lost" and "到達できません" in message


def test_a_user_task_outside_every_lane_is_refused(kasane, tmp_path):
    text = LOOP.replace('<bpmn:flowNodeRef>review</bpmn:flowNodeRef>', '')
    text = text.replace('<bpmn:lane id="lane_loop" name="担当">',
                        '<bpmn:lane id="lane_loop" name="担当"><bpmn:flowNodeRef>count</bpmn:flowNodeRef>')
    [(element, message)] = messages(lint_text(kasane, tmp_path, text))
    assert element == "review" and "レーン" in message


@pytest.mark.parametrize("tag, words", [("serviceTask", "サービスタスク"),
                                        ("complexGateway", "複合ゲートウェイ")])
def test_elements_the_engine_cannot_run_are_refused(kasane, tmp_path, tag, words):
    text = LOOP.replace('<bpmn:scriptTask id="count" name="回数を数える">\n      <bpmn:script>回数 = 回数 + 1</bpmn:script>\n    </bpmn:scriptTask>',
                        f'<bpmn:{tag} id="count" name="回数を数える"/>')
    assert ("count" in {e for e, _ in messages(lint_text(kasane, tmp_path, text))})
    assert any(words in m for _, m in messages(lint_text(kasane, tmp_path, text)))


def test_a_lane_nobody_holds_and_no_earlier_version_had_is_a_warning(kasane, tmp_path):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "loop.bpmn"])
    kasane.add_user("ito", ["担当"])
    assert kasane.lint([MODELS / "loop.bpmn"])["warnings"] == []
    typo = LOOP.replace('name="担当"', 'name="担等"')
    result = lint_text(kasane, tmp_path, typo, "loop.bpmn")
    assert result["ok"] and [w["element"] for w in result["warnings"]] == ["lane_loop"]
    assert "担等" in result["warnings"][0]["message"]
    kasane.deploy([tmp_path / "loop.bpmn"])  # a warning does not stop a deploy
    assert lint_text(kasane, tmp_path, typo, "loop.bpmn")["warnings"] == []  # an earlier version had it


def test_the_reference_corpus_is_complete():
    """All 21 models are here: an empty folder would make the test below pass by skipping."""
    assert len(list(MIWG.glob("*.bpmn"))) == 21


@pytest.mark.parametrize("path", sorted(MIWG.glob("*.bpmn")), ids=lambda p: p.name)
def test_every_reference_model_of_other_tools_ends_in_a_result(kasane, path):
    clock.set_now("2025-04-01")
    result = kasane.lint([path])
    tree = etree.parse(str(path))
    # What the modeler can select: the elements the diagram draws, and the processes.
    drawn = set(tree.xpath("//@bpmnElement")) | set(tree.xpath("//*[local-name()='process']/@id"))
    for problem in result["problems"]:
        assert problem["message"] and problem["file"] == path.name
        assert "Traceback" not in problem["message"]
        assert problem["element"] is None or problem["element"] in drawn, problem
    if not result["ok"]:
        return
    # An executable model deploys, and a case runs to its first wait state.
    for item in kasane.deploy([path]):
        with kasane.transaction() as session:
            roles = deployments.latest_deployment(session, item["pathway"]).roles
        user = f"miwg-{item['pathway']}"[:100]
        kasane.add_user(user, roles or ["管理者"])
        # As the operator sees it: a model without lanes has only 管理者 to open it, and a
        # manager sees no case file.
        opened = kasane.show_case(kasane.open_case(item["pathway"], user)["case_id"])
        assert opened["status"] in ("open", "closed") and (opened["tasks"] or opened["timers"]
                                                           or opened["status"] == "closed")
