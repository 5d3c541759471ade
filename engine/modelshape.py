"""Checks of a model's shape, read from the XML before SpiffWorkflow parses it: every
gateway says where each of its flows goes, every element can be reached, every user task
of a process with lanes is in one, and nothing is there that the engine cannot run."""
from __future__ import annotations

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import BPMN_MODEL_NS

B = f"{{{BPMN_MODEL_NS}}}"
# Elements the engine cannot run faithfully, and what to draw instead.
UNSUPPORTED = {
    "eventBasedGateway": "イベントベースゲートウェイには対応していません。受信タスクに境界タイマーを"
                         "付けるなどで表してください。",
    "complexGateway": "複合ゲートウェイには対応していません。排他・包含・並行ゲートウェイで表してください。",
    "serviceTask": "サービスタスクは実行できません（kasane は外部のサービスを呼びません）。"
                   "人が行うならユーザータスク、計算ならスクリプトタスクにしてください。",
    "dataStoreReference": "データストアには対応していません。データはケースのデータ（フォームの項目・"
                          "データオブジェクト）に置いてください。",
}
CONDITIONAL_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")
CONTAINERS = ("process", "subProcess", "transaction", "adHocSubProcess")
FLOW_NODES = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
    "eventBasedGateway", "complexGateway"})


def _local(node) -> str:
    return etree.QName(node).localname if isinstance(node.tag, str) else ""


def _label(node) -> str:
    return f"「{node.get('name')}」（{node.get('id')}）" if node.get("name") else node.get("id") or ""


def check(file: str, tree) -> list[dict]:
    problems = []

    def problem(node, message):
        problems.append({"file": file, "element": node.get("id"), "message": message})

    for local, message in UNSUPPORTED.items():
        for node in tree.iter(f"{B}{local}"):
            problem(node, message)
    for container in (n for n in tree.iter() if _local(n) in CONTAINERS):
        _check_gateways(container, problem)
        _check_reachable(container, problem)
    for process in tree.iter(f"{B}process"):
        _check_lanes(process, problem)
    return problems


def _children(container, local: str):
    return [n for n in container if _local(n) == local]


def _check_gateways(container, problem) -> None:
    flows = {f.get("id"): f for f in _children(container, "sequenceFlow")}
    for gateway in (n for n in container if _local(n) in CONDITIONAL_GATEWAYS):
        outgoing = [f for f in flows.values() if f.get("sourceRef") == gateway.get("id")]
        if len(outgoing) < 2:
            continue
        for flow in outgoing:
            if flow.get("id") != gateway.get("default") and flow.find(f"{B}conditionExpression") is None:
                problem(flow, f"ゲートウェイ {_label(gateway)} から出るフロー {_label(flow)} に条件も"
                              f"既定のフローの印もありません。条件を書くか、既定のフローにしてください。")


def _check_reachable(container, problem) -> None:
    """Every flow node of a process or subprocess can be reached from where it starts."""
    nodes = {n.get("id"): n for n in container if _local(n) in FLOW_NODES and n.get("id")}
    if not nodes:
        return
    targets: dict[str, list[str]] = {}
    for flow in _children(container, "sequenceFlow"):
        targets.setdefault(flow.get("sourceRef"), []).append(flow.get("targetRef"))
    attached: dict[str, list[str]] = {}
    for node in nodes.values():
        if _local(node) == "boundaryEvent":
            attached.setdefault(node.get("attachedToRef"), []).append(node.get("id"))
    # Where a container starts: its start events; an event subprocess starts by itself; a
    # container without start events starts at every node nothing flows into.
    entered = {t for ts in targets.values() for t in ts}
    starts = [i for i, n in nodes.items() if _local(n) == "startEvent"
              or (_local(n) == "subProcess" and n.get("triggeredByEvent") == "true")]
    if not any(_local(n) == "startEvent" for n in nodes.values()):
        starts += [i for i, n in nodes.items() if i not in entered and _local(n) != "boundaryEvent"]
    seen, stack = set(), list(starts)
    while stack:
        current = stack.pop()
        if current in seen or current not in nodes:
            continue
        seen.add(current)
        stack += targets.get(current, []) + attached.get(current, [])
    for element_id, node in nodes.items():
        # SpiffWorkflow needs an end event in a subprocess that never ends by a flow (one
        # cancelled from outside): an end event nothing flows into is that placeholder.
        if _local(node) == "endEvent" and element_id not in entered:
            continue
        if element_id not in seen:
            problem(node, f"要素 {_label(node)} にはどこからも到達できません。つながるフローを"
                          f"描くか、要素を削除してください。")


def _check_lanes(process, problem) -> None:
    lanes = list(process.iter(f"{B}lane"))
    if not lanes:
        return  # a process without lanes has no roles: its tasks are anyone's
    in_lane = {(ref.text or "").strip() for lane in lanes for ref in lane.iter(f"{B}flowNodeRef")}
    for task in process.iter(f"{B}userTask"):
        if task.get("id") not in in_lane:
            problem(task, f"ユーザータスク {_label(task)} がどのレーン（役割）にも入っていません。"
                          f"担当する役割のレーンに入れてください。")
