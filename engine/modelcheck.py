"""Static checks that refuse a model before it runs, each naming the element and the reason.

Besides the whitelist, lint runs every expression and script that needs no task data
(a constant: ``10**9`` as a loopCardinality, a script that loops 10**12 times) on the
run-time budget, and checks constant timer, due-date and cardinality values
(engine.timer_values, engine.loops).
"""
from __future__ import annotations

from lxml import etree
from SpiffWorkflow.bpmn.parser.util import BPMN_MODEL_NS
from SpiffWorkflow.camunda.parser.task_spec import CAMUNDA_MODEL_NS
from SpiffWorkflow.camunda.specs.user_task import UserTask

import forms
from engine import modelshape
from engine import limits, loops, storable, timer_values
from engine.expressions import (UnsafeExpression, check_expression, check_script, evaluate,
                                execute, free_names, is_iso_literal, looks_like_iso)
from engine.limits import BudgetExceeded
from engine.storable import NotStorable
from engine.store import Case, CaseAgency, Deployment, HistoryEntry, HumanTask, Record, StepRecord

NS = {"bpmn": BPMN_MODEL_NS, "camunda": CAMUNDA_MODEL_NS}
TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")


# Ancestors that carry an id of their own but are not what a modeler clicks on: a problem
# in a condition or timer names its flow or event, which the modeler can select.
_PARTS = ("EventDefinition", "LoopCharacteristics", "Expression", "Condition", "Cardinality",
          "timeDate", "timeDuration", "timeCycle", "script")


def _element_id(node):
    while node is not None:
        local = node.tag.rsplit("}", 1)[-1] if isinstance(node.tag, str) else ""
        if node.get("id") and not local.endswith(_PARTS):
            return node.get("id")
        node = node.getparent()
    return None


def _problem(problems, file, node, message):
    problems.append({"file": file, "element": _element_id(node), "message": message})


def _check(source, kind, file, node, problems) -> bool:
    """Refuse what does not compile; True when the source compiled."""
    try:
        (check_script if kind == "script" else check_expression)(source)
    except SyntaxError as exc:
        _problem(problems, file, node, f"式の構文が正しくありません: {source!r:.200} ({exc.msg})")
    except UnsafeExpression as exc:
        _problem(problems, file, node, f"使用できない式です: {exc.reason}")
    except BudgetExceeded as exc:
        _problem(problems, file, node, f"式が上限を超えています: {exc.reason}")
    else:
        return True
    return False


def _value_problem(slot, value) -> str | None:
    """Why a constant value cannot go in its slot (a timer, a due date, a cardinality)."""
    try:
        if slot in timer_values.KINDS:
            timer_values.check(slot, value)
        elif slot == "loopCardinality":
            loops.check_count(value)
        elif slot == "outputEntry":  # a decision's output lands in the case data
            storable.check_value(value, "出力")
    except NotStorable as exc:
        return f"保存できない値になります: {exc.reason}"
    except BudgetExceeded as exc:
        return f"値が上限を超えています: {exc.reason}"
    except ValueError as exc:
        return str(exc)
    return None


def _run_constant(source, kind, slot, file, node, problems) -> None:
    """An expression or script that needs no task data runs now, on the same budget as
    at run time: one that never finishes is refused here, with its element."""
    if free_names(source, "exec" if kind == "script" else "eval"):
        return
    try:
        if kind == "script":
            execute(source, {})
            return
        value = evaluate(source, {})
    except (BudgetExceeded, NotStorable) as exc:
        _problem(problems, file, node, f"式が上限を超えています: {exc.reason}"
                 if isinstance(exc, BudgetExceeded) else f"保存できない値になります: {exc.reason}")
        return
    except Exception:  # any other failure depends on when it runs, or shows at run time
        return
    message = _value_problem(slot, value)
    if message:
        _problem(problems, file, node, message)


def _expressions(tree):
    """(source, kind, node, slot) for every expression a BPMN or DMN file carries.

    kind: "script", "expression", "dmn-entry", or "literal" for plain ISO 8601 text in a
    timer or due date; slot: the tag or attribute it came from."""
    for node in tree.iter():
        tag = node.tag if isinstance(node.tag, str) else ""
        local = tag.rsplit("}", 1)[-1]
        text = (node.text or "").strip()
        if local == "script" and text:
            yield text, "script", node, "script"
        elif local in ("conditionExpression", "condition", "completionCondition",
                       "loopCardinality", "messagePath") and text:
            yield text, "expression", node, local
        elif local in TIMER_TAGS and text:
            yield text, "literal" if is_iso_literal(text) else "expression", node, local
        elif local in ("inputExpression", "outputEntry"):
            for child in node:
                if (child.text or "").strip():
                    yield child.text.strip(), "expression", node, local
        elif local == "inputEntry":
            for child in node:
                entry = (child.text or "").strip()
                if entry and entry != "-":
                    yield entry, "dmn-entry", node, local
        elif local == "standardLoopCharacteristics" and node.get("loopMaximum"):
            yield node.get("loopMaximum").strip(), "expression", node, "loopCardinality"
        due = node.get(f"{{{CAMUNDA_MODEL_NS}}}dueDate") if tag else None
        if due and due.strip():
            yield due.strip(), "literal" if is_iso_literal(due.strip()) else "expression", \
                node, "dueDate"
        expression = node.get(f"{{{CAMUNDA_MODEL_NS}}}expression") if tag else None
        if expression:
            yield expression, "expression", node, "expression"


def check_supported_elements(file: str, tree) -> list[dict]:
    """Elements the engine cannot run faithfully are refused rather than run half-way, and
    a model of the wrong shape (a gateway flow without a condition, an element nothing
    reaches, a user task outside the lanes) is refused with the element."""
    problems = modelshape.check(file, tree)
    for node in tree.iter(f"{{{BPMN_MODEL_NS}}}businessRuleTask"):
        if not node.get(f"{{{CAMUNDA_MODEL_NS}}}decisionRef"):
            problems.append({"file": file, "element": node.get("id"),
                             "message": "ビジネスルールタスクには camunda:decisionRef で DMN の"
                                        "決定を指定してください。"})
    return problems


FLOW_ELEMENTS = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "exclusiveGateway", "parallelGateway", "inclusiveGateway",
    "eventBasedGateway", "complexGateway", "sequenceFlow", "dataObject",
    "dataObjectReference", "dataStoreReference"})


def check_element_count(file: str, tree) -> list[dict]:
    """A process with more flow elements than max_elements (its subprocesses included) is
    refused before SpiffWorkflow's parser, which recurses once per element of a chain."""
    allowed = limits.current().max_elements
    problems = []
    for process in tree.iter(f"{{{BPMN_MODEL_NS}}}process"):
        count = sum(1 for node in process.iter(f"{{{BPMN_MODEL_NS}}}*")
                    if etree.QName(node).localname in FLOW_ELEMENTS)
        if count > allowed:
            exc = BudgetExceeded("max_elements", count, allowed, f"プロセス {process.get('id')}")
            problems.append({"file": file, "element": process.get("id"), "message":
                             f"{exc.reason}。サブプロセスや呼び出しアクティビティで分けてください。"})
    return problems


def _column(column) -> int:
    return column.type.length


_NODES = " or ".join(f"local-name()='{tag}'" for tag in sorted(FLOW_ELEMENTS)
                    if tag not in ("sequenceFlow", "dataObject", "dataObjectReference",
                                   "dataStoreReference"))
# (what, xpath, attribute, column): text a model puts into a column of the store.
_STORED_TEXT = (
    ("プロセス ID", ".//bpmn:process", "id", Deployment.__table__.c.pathway),
    ("プロセス名", ".//bpmn:process", "name", Deployment.__table__.c.name),
    ("要素の ID", f".//bpmn:*[{_NODES}]", "id", StepRecord.__table__.c.spec_id),
    ("要素の名前", f".//bpmn:*[{_NODES}]", "name", HistoryEntry.__table__.c.name),
    ("メッセージ名", ".//bpmn:message", "name", Record.__table__.c.name),
    ("フォームキー", ".//bpmn:userTask", f"{{{CAMUNDA_MODEL_NS}}}formKey",
     HumanTask.__table__.c.form_key),
    ("レーン（役割）の名前", ".//bpmn:lane", "name", HumanTask.__table__.c.role),
    ("段階 (stage)", ".//camunda:property[@name='stage']", "value", Case.__table__.c.stage),
    ("状態 (status)", ".//camunda:property[@name='status']", "value", Case.__table__.c.status),
    ("担当できる機関の種別 (assignTo)", ".//camunda:property[@name='assignTo']", "value",
     HumanTask.__table__.c.assigned_to),
    ("読めるケースのデータ (reads)", ".//camunda:property[@name='reads']", "value",
     HumanTask.__table__.c.reads),
)
_REFER_TO = ".//camunda:property[@name='referTo']"


def _too_long(file, node, what, value, allowed) -> dict:
    space = " " if what[-1].isascii() else ""
    return {"file": file, "element": _element_id(node), "message":
            f"{what}{space}が長すぎます（{len(value):,} 文字、上限 {allowed} 文字）: {value[:40]}…"}


def check_stored_text(file: str, tree) -> list[dict]:
    """Ids, names and properties longer than the columns that keep them: PostgreSQL
    would fail on them at run time and SQLite would keep them silently. Values are
    measured as they are stored, spaces included."""
    problems = []
    for what, path, attribute, column in _STORED_TEXT:
        for node in tree.xpath(path, namespaces=NS):
            value = node.get(attribute) or ""
            if len(value) > _column(column):
                problems.append(_too_long(file, node, what, value, _column(column)))
    # referTo: each kind is a holder row of its own, and the case keeps every kind it was
    # referred to, from every task of the model, in one column (",kind,kind,").
    kind_length = _column(CaseAgency.__table__.c.agency_kind)
    referred = _column(Case.__table__.c.referred_kinds)
    kinds: dict[str, None] = {}
    for node in tree.xpath(_REFER_TO, namespaces=NS):
        for kind in comma_list(node.get("value")):
            if len(kind) > kind_length:
                problems.append(_too_long(file, node, "紹介先の種別 (referTo)", kind, kind_length))
            kinds[kind] = None
        if len(",".join(["", *kinds, ""])) > referred:
            problems.append({"file": file, "element": _element_id(node), "message":
                             f"referTo の紹介先の種別が多すぎます: モデルの referTo の種別は合わせて "
                             f"{referred} 文字（区切りのコンマを含む）までです。"})
            kinds.clear()  # one problem for each element that goes past
    return problems


def check_expressions(file: str, tree) -> list[dict]:
    problems: list[dict] = []
    for source, kind, node, slot in _expressions(tree):
        if kind == "literal":
            message = _value_problem(slot, source)
            if message:
                _problem(problems, file, node, message)
            continue
        if kind == "dmn-entry":
            # A DMN input entry is a value (`"多機関協働"`) or an operator tail (`>= 90`).
            source = source.replace("?", "dmninputexpr")
            try:
                check_expression(source)
            except SyntaxError:
                if _check(f"dmninputexpr {source}", "expression", file, node, problems):
                    _run_constant(f"dmninputexpr {source}", "expression", slot, file, node,
                                  problems)
                continue
            except UnsafeExpression as exc:
                _problem(problems, file, node, f"使用できない式です: {exc.reason}")
                continue
            except BudgetExceeded as exc:
                _problem(problems, file, node, f"式が上限を超えています: {exc.reason}")
                continue
            _run_constant(source, "expression", slot, file, node, problems)
            continue
        if slot in timer_values.KINDS and looks_like_iso(source):
            _problem(problems, file, node, f"{timer_values.KINDS[slot]}の値 {source!r} は ISO 8601 の"
                     "期間や繰り返しとして正しくありません（負の値や数のない期間は使えません。"
                     '例: "P3D"、"PT12H"、"R3/P1D"）')
            continue
        if _check(source, kind, file, node, problems):
            _run_constant(source, kind, slot, file, node, problems)
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
