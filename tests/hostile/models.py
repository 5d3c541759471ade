"""Minimal models that put one piece of model text into one slot.

Each slot has a BPMN (and for DMN cells a DMN) template, the element a lint problem
names (``lint_element``) and the element a run-time error names (``run_element``).
Opening a case runs the slot at once: the gateway decides, the script runs, the timer
and the due date are computed, the decision is taken, the instances are counted.
"""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
        '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' id="defs" targetNamespace="http://kasane.example/hostile">\n')


def _process(pid: str, body: str, name: str = "敵対的なモデル") -> str:
    return (f'{HEAD}<bpmn:process id="{pid}" name="{name}" isExecutable="true">\n'
            f'<bpmn:startEvent id="start"/>\n{body}\n<bpmn:endEvent id="end"/>\n'
            '</bpmn:process>\n</bpmn:definitions>\n')


def _flow(fid, source, target, condition=None):
    if condition is None:
        return f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}"/>'
    return (f'<bpmn:sequenceFlow id="{fid}" sourceRef="{source}" targetRef="{target}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{escape(condition)}'
            '</bpmn:conditionExpression></bpmn:sequenceFlow>')


def _through(element: str, element_id: str) -> str:
    return f"{element}\n{_flow('f1', 'start', element_id)}\n{_flow('f2', element_id, 'end')}"


def condition(pid, text):
    return {f"{pid}.bpmn": _process(pid, "\n".join([
        '<bpmn:exclusiveGateway id="gw" default="f_no"/>', _flow("f1", "start", "gw"),
        _flow("f_yes", "gw", "end", text), _flow("f_no", "gw", "end")]))}


def script(pid, text):
    return {f"{pid}.bpmn": _process(pid, _through(
        f'<bpmn:scriptTask id="s" scriptFormat="python"><bpmn:script>{escape(text)}'
        '</bpmn:script></bpmn:scriptTask>', "s"))}


def _timer(tag):
    def model(pid, text):
        return {f"{pid}.bpmn": _process(pid, _through(
            f'<bpmn:intermediateCatchEvent id="t" name="待ち"><bpmn:timerEventDefinition id="td">'
            f'<bpmn:{tag}>{escape(text)}</bpmn:{tag}></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>', "t"))}
    return model


DUE_DATE_TASK = "期限のある作業"


def due_date(pid, text):
    return {f"{pid}.bpmn": _process(pid, _through(
        f'<bpmn:userTask id="u" name="{DUE_DATE_TASK}" camunda:dueDate={quoteattr(text)}/>',
        "u"))}


def loop_cardinality(pid, text):
    return {f"{pid}.bpmn": _process(pid, _through(
        '<bpmn:scriptTask id="m" scriptFormat="python">'
        '<bpmn:multiInstanceLoopCharacteristics id="mi">'
        f'<bpmn:loopCardinality>{escape(text)}</bpmn:loopCardinality>'
        '</bpmn:multiInstanceLoopCharacteristics>'
        '<bpmn:script>回 = 1</bpmn:script></bpmn:scriptTask>', "m"))}


def _dmn(cell):
    def model(pid, text):
        entry = escape(text) if cell == "input" else "-"
        output = escape(text) if cell == "output" else '"はい"'
        bpmn = _process(pid, _through(
            f'<bpmn:businessRuleTask id="r" camunda:decisionRef="d_{pid}"/>', "r"))
        dmn = ('<?xml version="1.0" encoding="UTF-8"?>\n'
               '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="dd"'
               f' name="判定" namespace="http://kasane.example/hostile"><decision id="d_{pid}"'
               ' name="判定"><decisionTable id="table" hitPolicy="FIRST">'
               '<input id="in" label="値"><inputExpression id="in_expr" typeRef="integer">'
               '<text>値</text></inputExpression></input>'
               '<output id="out" label="結果" name="結果" typeRef="string"/>'
               f'<rule id="rule"><inputEntry id="{"cell" if cell == "input" else "e1"}">'
               f'<text>{entry}</text></inputEntry>'
               f'<outputEntry id="{"cell" if cell == "output" else "o1"}"><text>{output}'
               '</text></outputEntry></rule></decisionTable></decision></definitions>\n')
        return {f"{pid}.bpmn": bpmn, f"{pid}.dmn": dmn}
    return model


# slot -> (model builder, element named by lint, element named at run time)
SLOTS = {
    "condition": (condition, "f_yes", "gw"),
    "script": (script, "s", "s"),
    "timeDate": (_timer("timeDate"), "t", "t"),
    "timeDuration": (_timer("timeDuration"), "t", "t"),
    "timeCycle": (_timer("timeCycle"), "t", "t"),
    "dmnInput": (_dmn("input"), "cell", "r"),
    "dmnOutput": (_dmn("output"), "cell", "r"),
    "dueDate": (due_date, "u", "u"),
    "loopCardinality": (loop_cardinality, "m", "m"),
}
EXPRESSION_SLOTS = tuple(slot for slot in SLOTS if slot != "script")


def sequence(pid: str, length: int) -> str:
    """A process of ``length`` tasks in one chain."""
    body = ['<bpmn:task id="t0"/>', _flow("f0", "start", "t0")]
    for i in range(1, length):
        body += [f'<bpmn:task id="t{i}"/>', _flow(f"f{i}", f"t{i - 1}", f"t{i}")]
    body.append(_flow("f_end", f"t{length - 1}", "end"))
    return _process(pid, "\n".join(body))


def plain(pid: str, name: str = "敵対的なモデル") -> str:
    """A process with one user task, to carry a name, an id or an encoding."""
    return _process(pid, _through('<bpmn:userTask id="u" name="受付"/>', "u"), name=name)
