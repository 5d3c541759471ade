"""Every pathway diagram carries complete layout (BPMN DI), so it opens readably in a modeler."""
from __future__ import annotations

import pytest
from lxml import etree

from tests.conftest import ROOT

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC",
      "di": "http://www.omg.org/spec/DD/20100524/DI"}
DRAWN = ("task", "userTask", "scriptTask", "businessRuleTask", "receiveTask", "callActivity",
         "subProcess", "startEvent", "endEvent", "intermediateCatchEvent",
         "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "parallelGateway",
         "inclusiveGateway", "lane", "participant", "dataObjectReference")
BPMN_FILES = sorted((ROOT / "workflows").glob("*.bpmn"))


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_every_element_has_a_shape_and_every_flow_an_edge(path):
    tree = etree.parse(str(path))
    shapes = {s.get("bpmnElement"): s for s in tree.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in tree.iterfind(".//bpmndi:BPMNEdge", NS)}
    missing, checked = [], 0
    for local in DRAWN:
        for node in tree.iterfind(f".//bpmn:{local}", NS):
            checked += 1
            shape = shapes.get(node.get("id"))
            bounds = shape.find("dc:Bounds", NS) if shape is not None else None
            if bounds is None or float(bounds.get("width", 0)) <= 0:
                missing.append(node.get("id"))
    for flow in tree.iterfind(".//bpmn:sequenceFlow", NS):
        edge = edges.get(flow.get("id"))
        if edge is None or len(edge.findall("di:waypoint", NS)) < 2:
            missing.append(flow.get("id"))
    assert checked >= 5 and edges
    assert missing == []


def test_the_main_pathway_is_jusou_with_the_roles_as_lanes():
    tree = etree.parse(str(ROOT / "workflows" / "jusou.bpmn"))
    process = tree.find(".//bpmn:process[@id='jusou']", NS)
    assert process.get("name") == "重層的支援" and process.get("isExecutable") == "true"
    lanes = {lane.get("name") for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NS)}
    assert lanes == {"包括化推進員", "相談支援コーディネーター", "参加支援コーディネーター",
                     "アウトリーチ支援員", "管理者"}


@pytest.mark.parametrize("path", BPMN_FILES, ids=lambda p: p.name)
def test_names_a_caseworker_reads_are_plain_japanese(path):
    """Gateways ask in Japanese (「結果は？」, not 「結果?」); timers and tasks are named in
    Japanese (their ids, t_monitor and so on, stay ASCII for the models)."""
    tree = etree.parse(str(path))
    names = {node.get("id"): node.get("name") for node in tree.iter()
             if isinstance(node.tag, str) and node.get("name") and node.get("id")
             and etree.QName(node).namespace == NS["bpmn"]}
    assert names
    assert [i for i, name in names.items() if "?" in name] == []
    timers = [node.getparent() for node in tree.iterfind(".//bpmn:timerEventDefinition", NS)]
    assert timers and all(not (t.get("name") or "").isascii() for t in timers), \
        [t.get("name") for t in timers]
