"""Static checks that refuse a model before it runs, each naming the element and the reason."""
from __future__ import annotations

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import BPMN_MODEL_NS
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS
from SpiffWorkflow.camunda.specs.user_task import UserTask

import forms
from engine.expressions import UnsafeExpression, check_expression, check_script, is_iso_literal

NS = {"bpmn": BPMN_MODEL_NS, "camunda": CAMUNDA_MODEL_NS}
TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")


def _element_id(node):
    while node is not None:
        if node.get("id"):
            return node.get("id")
        node = node.getparent()
    return None


def _check(source, kind, file, node, problems):
    try:
        (check_script if kind == "script" else check_expression)(source)
    except SyntaxError as exc:
        problems.append({"file": file, "element": _element_id(node),
                         "message": f"式の構文が正しくありません: {source!r} ({exc.msg})"})
    except UnsafeExpression as exc:
        problems.append({"file": file, "element": _element_id(node),
                         "message": f"使用できない式です: {exc.reason}"})


def _expressions(tree):
    """(source, kind, node) for every expression a BPMN or DMN file carries."""
    for node in tree.iter():
        tag = node.tag if isinstance(node.tag, str) else ""
        local = tag.rsplit("}", 1)[-1]
        text = (node.text or "").strip()
        if local == "script" and text:
            yield text, "script", node
        elif local in ("conditionExpression", "condition", "completionCondition",
                       "loopCardinality") and text:
            yield text, "expression", node
        elif local in TIMER_TAGS and text and not is_iso_literal(text):
            yield text, "expression", node
        elif local == "inputExpression":
            for child in node:
                if (child.text or "").strip():
                    yield child.text.strip(), "expression", node
        elif local == "outputEntry":
            for child in node:
                if (child.text or "").strip():
                    yield child.text.strip(), "expression", node
        elif local == "inputEntry":
            for child in node:
                entry = (child.text or "").strip()
                if entry and entry != "-":
                    yield entry, "dmn-entry", node
        due = node.get(f"{{{CAMUNDA_MODEL_NS}}}dueDate") if tag else None
        if due and not is_iso_literal(due.strip()):
            yield due.strip(), "expression", node
        expression = node.get(f"{{{CAMUNDA_MODEL_NS}}}expression") if tag else None
        if expression:
            yield expression, "expression", node


UNSUPPORTED = {
    "eventBasedGateway": "イベントベースゲートウェイには対応していません。受信タスクに境界タイマーを"
                         "付けるなどで表してください。",
}


def check_supported_elements(file: str, tree) -> list[dict]:
    """Elements the engine cannot run faithfully are refused rather than run half-way."""
    problems = []
    for local, message in UNSUPPORTED.items():
        for node in tree.iter(f"{{{BPMN_MODEL_NS}}}{local}"):
            problems.append({"file": file, "element": node.get("id"), "message": message})
    for node in tree.iter(f"{{{BPMN_MODEL_NS}}}businessRuleTask"):
        if not node.get(f"{{{CAMUNDA_MODEL_NS}}}decisionRef"):
            problems.append({"file": file, "element": node.get("id"),
                             "message": "ビジネスルールタスクには camunda:decisionRef で DMN の"
                                        "決定を指定してください。"})
    return problems


def check_expressions(file: str, tree) -> list[dict]:
    problems: list[dict] = []
    for source, kind, node in _expressions(tree):
        if kind == "dmn-entry":
            # A DMN input entry is a value (`"多機関協働"`) or an operator tail (`>= 90`).
            source = source.replace("?", "dmninputexpr")
            try:
                check_expression(source)
            except SyntaxError:
                _check(f"dmninputexpr {source}", "expression", file, node, problems)
                continue
            except UnsafeExpression as exc:
                problems.append({"file": file, "element": _element_id(node),
                                 "message": f"使用できない式です: {exc.reason}"})
            continue
        _check(source, kind, file, node, problems)
    return problems


def quote_plain_timer_expressions(tree) -> None:
    """SpiffWorkflow evaluates timer text as Python; people write plain ISO 8601."""
    for tag in TIMER_TAGS:
        for node in tree.iter(f"{{{BPMN_MODEL_NS}}}{tag}"):
            text = (node.text or "").strip()
            if text and is_iso_literal(text):
                node.text = repr(text)


def comma_list(value: str | None) -> list[str]:
    """The names in a property value: one, or several separated by commas."""
    return [name.strip() for name in (value or "").split(",") if name.strip()]


def validation_refs(value: str | None) -> list[str]:
    """The decision ids a ``validation`` property names."""
    return comma_list(value)


INTERNAL = ("./bpmn:extensionElements/camunda:properties/"
            "camunda:property[@name='internalVariables']/@value")


def declared_internal(process_node) -> list[str]:
    """The working variables a process declares (process-level property ``internalVariables``)."""
    return [name for value in process_node.xpath(INTERNAL, namespaces=NS)
            for name in comma_list(value)]


def internal_variables(files: dict[str, str]) -> frozenset[str]:
    """The working variables the processes of a deployment declare. Case data leaves them out."""
    names: set[str] = set()
    for name, text in files.items():
        if name.endswith(".bpmn"):
            for process in etree.fromstring(text.encode("utf-8")).iterfind("bpmn:process", NS):
                names.update(declared_internal(process))
    return frozenset(names)


def decisions_used(process_node) -> set[str]:
    refs = set(process_node.xpath(".//bpmn:businessRuleTask/@camunda:decisionRef", namespaces=NS))
    for value in process_node.xpath(".//camunda:property[@name='validation']/@value", namespaces=NS):
        refs |= set(validation_refs(value))
    return {r.strip() for r in refs if r.strip()}


def check_conventions(parser, process_id: str) -> list[dict]:
    """Forms must exist, validation decisions must be deployed with the model, and declared
    working variables must not hide a form field: in the process and in every subprocess it
    embeds or calls."""
    problems = []
    specs = {process_id: parser.get_spec(process_id), **parser.get_subprocess_specs(process_id)}
    entered: dict[str, str] = {}  # form field -> the first form that has it
    for key, form in forms.FORMS.items():
        for name in form._declared_fields:
            entered.setdefault(name, key)
    for spec_id, spec in specs.items():
        file = parser.get_process_parser(spec_id).filename
        for task_spec in spec.task_specs.values():
            if not isinstance(task_spec, UserTask):
                continue
            key = task_spec.form.key if task_spec.form else None
            if key and forms.get_form(key) is None:
                problems.append({"file": file, "element": task_spec.name,
                                 "message": f"フォーム '{key}' が forms/ にありません。"})
            for ref in validation_refs((task_spec.extensions or {}).get("validation")):
                if ref not in parser.dmn_parsers:
                    problems.append({"file": file, "element": task_spec.name,
                                     "message": f"検証ルール (DMN) '{ref}' がありません。"})
        # What a person enters is never hidden: a working variable may not share a form field's name.
        for name in declared_internal(parser.get_process_parser(spec_id).node):
            if name in entered:
                problems.append({"file": file, "element": spec_id,
                                 "message": f"internalVariables の「{name}」はフォーム「{entered[name]}」"
                                            f"の項目です。利用者が入力する値は作業用の変数にできません。"})
    return problems
