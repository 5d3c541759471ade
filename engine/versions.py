"""Pathway versions: every deployed version with who and when, the running cases on each,
and what changed between two versions, element by element (the diagram's own terms)."""
from __future__ import annotations

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import InvalidInput, NotFound
from engine.store import Case, Deployment, ModelDraft, parse_id

DI_NAMESPACES = ("http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
                 "http://www.omg.org/spec/DD/20100524/DI", "https://www.omg.org/spec/DMN/20191111/DMNDI/",
                 "http://www.omg.org/spec/DMN/20180521/DC/", "http://www.omg.org/spec/DMN/20180521/DI/")
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
# What a change is called, for the names a manager sees.
LABELS = {"name": "名前", "camunda:formKey": "フォーム", "camunda:dueDate": "期限",
          "camunda:decisionRef": "決定（DMN）", "calledElement": "呼び出すプロセス",
          "sourceRef": "元", "targetRef": "先", "default": "既定のフロー", "attachedToRef": "付く要素",
          "cancelActivity": "中断する", "messageRef": "メッセージ", "conditionExpression": "条件",
          "timeDate": "タイマー（日時）", "timeDuration": "タイマー（期間）", "timeCycle": "タイマー（繰り返し）",
          "script": "スクリプト", "documentation": "説明", "flowNodeRef": "レーンの要素",
          "incoming": "入るフロー", "outgoing": "出るフロー", "text": "式", "inputEntry": "条件",
          "outputEntry": "結果", "isExecutable": "実行可能"}


# Attributes at their default value, which modelers write or leave out as they like:
# bpmn-js drops cancelActivity="true", and a file from another tool may spell it out.
DEFAULTS = {"cancelActivity": "true", "isInterrupting": "true", "parallelMultiple": "false",
            "isForCompensation": "false", "completionQuantity": "1", "startQuantity": "1",
            "isClosed": "false", "gatewayDirection": "Unspecified", "instantiate": "false",
            "triggeredByEvent": "false", "associationDirection": "None", "hitPolicy": "UNIQUE",
            "isCollection": "false"}


def versions(session: Session) -> list[dict]:
    """Every pathway with its versions (number, who, when) and the open cases on each."""
    running = dict(session.execute(
        select(Case.deployment_id, func.count(Case.id)).where(Case.status != "closed")
        .group_by(Case.deployment_id)).all())
    pathways: dict[str, dict] = {}
    for d in session.scalars(select(Deployment).order_by(Deployment.pathway, Deployment.version)):
        entry = pathways.setdefault(d.pathway, {"pathway": d.pathway, "name": d.name, "versions": []})
        entry["name"] = d.name
        entry["versions"].append({"version": d.version, "deployed_by": d.deployed_by,
                                  "deployed_at": d.deployed_at.astimezone(clock.LOCAL_TZ).isoformat(),
                                  "running_cases": running.get(d.id, 0)})
    return list(pathways.values())


def running_cases(session: Session, deployment: Deployment, limit: int = 50,
                  after: str | None = None) -> list[dict]:
    """A page of the cases still running on a deployment, oldest first, with a cursor."""
    query = select(Case.id, Case.stage, Case.status, Case.opened_at, Case.updated_at).where(
        Case.deployment_id == deployment.id, Case.status != "closed")
    if after is not None:
        number = parse_id(after)
        if number is None:
            raise InvalidInput(f"カーソル {after!r} が正しくありません。", {"after": "正しくないカーソルです。"})
        query = query.where(Case.id > number)
    rows = session.execute(query.order_by(Case.id).limit(min(max(int(limit), 1), 200)))
    return [{"case_id": r.id, "stage": r.stage, "status": r.status,
             "opened_at": r.opened_at.astimezone(clock.LOCAL_TZ).isoformat(),
             "updated_at": r.updated_at.astimezone(clock.LOCAL_TZ).isoformat(),
             "cursor": str(r.id)} for r in rows]


def deployment_of(session: Session, pathway: str, version) -> Deployment:
    number = parse_id(version)
    found = session.scalars(select(Deployment).where(
        Deployment.pathway == pathway, Deployment.version == number)).first() \
        if number is not None else None
    if found is None:
        raise NotFound(f"パスウェイ '{pathway}' の版 {version} はありません。")
    return found


def diff(session: Session, pathway: str, old_version, new_version) -> dict:
    """Elements added, removed and changed from one version to another, and how."""
    old = _elements(dict(deployment_of(session, pathway, old_version).files))
    new = _elements(dict(deployment_of(session, pathway, new_version).files))
    changed = []
    for key in sorted(set(old) & set(new)):
        changes = [{"what": LABELS.get(name, name), "key": name, "before": old[key]["facts"].get(name),
                    "after": new[key]["facts"].get(name)}
                   for name in sorted(set(old[key]["facts"]) | set(new[key]["facts"]))
                   if old[key]["facts"].get(name) != new[key]["facts"].get(name)]
        if changes:
            changed.append({**_describe(key, new[key]), "changes": changes})
    return {"pathway": pathway, "from": int(old_version), "to": int(new_version),
            "added": [_describe(k, new[k]) for k in sorted(set(new) - set(old))],
            "removed": [_describe(k, old[k]) for k in sorted(set(old) - set(new))],
            "changed": changed}


def _describe(key, element) -> dict:
    return {"file": key[0], "element": key[1], "type": element["type"], "name": element["name"]}


def _elements(files: dict[str, str]) -> dict[tuple, dict]:
    """Every element with an id (outside the diagram's layout), with the facts that make it:
    its attributes, and the texts and properties of its children that have no id."""
    found = {}
    for file, text in files.items():
        tree = etree.fromstring(text.encode("utf-8"))
        for node in tree.iter():
            if not isinstance(node.tag, str) or not node.get("id") or _in_di(node):
                continue
            found[(file, node.get("id"))] = {"type": etree.QName(node).localname,
                                             "name": node.get("name") or _cell_name(node),
                                             "facts": _facts(node)}
    return found


def _cell_name(node) -> str | None:
    """A decision table's rule or cell, as a manager finds it in the table: its column's
    heading and its rule's number (モニタリング期日の既定（プラン合意から、月）（規則 1）)."""
    local = etree.QName(node).localname
    rule = node.getparent() if local in ("inputEntry", "outputEntry") else node
    if rule is None or etree.QName(rule).localname != "rule" or rule.getparent() is None:
        return None
    table = rule.getparent()
    number = [r for r in table if isinstance(r.tag, str) and etree.QName(r).localname == "rule"].index(rule) + 1
    if local == "rule":
        return f"規則 {number}"
    column = "input" if local == "inputEntry" else "output"
    entries = [c for c in rule if isinstance(c.tag, str) and etree.QName(c).localname == local]
    columns = [c for c in table if isinstance(c.tag, str) and etree.QName(c).localname == column]
    index = entries.index(node)
    if index >= len(columns):
        return f"規則 {number}"
    # The label is what the decision table shows as the column's heading.
    header = columns[index].get("label") or columns[index].get("name") or columns[index].get("id")
    return f"{header}（規則 {number}）"


def _in_di(node) -> bool:
    while node is not None:
        if isinstance(node.tag, str) and etree.QName(node).namespace in DI_NAMESPACES:
            return True
        node = node.getparent()
    return False


def _facts(node) -> dict:
    facts = {_qualified(name): value for name, value in node.attrib.items()
             if name != "id" and DEFAULTS.get(name) != value}
    refs: dict[str, list] = {}
    for child in node.iterchildren():
        if not isinstance(child.tag, str) or child.get("id") and not _property(child):
            continue
        local = etree.QName(child).localname
        if local in ("incoming", "outgoing", "flowNodeRef"):
            refs.setdefault(local, []).append((child.text or "").strip())
        elif local == "extensionElements":
            for prop in child.iter(f"{{{CAMUNDA}}}property"):
                facts[f"property:{prop.get('name')}"] = prop.get("value")
        else:
            text = " ".join("".join(child.itertext()).split())
            if text or child.attrib:
                label = local if local not in facts else f"{local}:{len(facts)}"
                facts[label] = text or ", ".join(f"{_qualified(k)}={v}" for k, v in child.attrib.items())
    facts.update({name: ", ".join(values) for name, values in refs.items()})
    return facts


def _property(node) -> bool:
    return etree.QName(node).localname == "property" and etree.QName(node).namespace == CAMUNDA


def _qualified(name: str) -> str:
    qname = etree.QName(name)
    return f"camunda:{qname.localname}" if qname.namespace == CAMUNDA else qname.localname


def files_of(session: Session, pathway: str, version=None) -> dict:
    """A version's files (default: the latest), to open in the modeler."""
    deployment = deployment_of(session, pathway, version) if version is not None else \
        session.scalars(select(Deployment).where(Deployment.pathway == pathway)
                        .order_by(Deployment.version.desc()).limit(1)).first()
    if deployment is None:
        raise NotFound(f"パスウェイ '{pathway}' はデプロイされていません。")
    return {"pathway": pathway, "version": deployment.version, "files": dict(deployment.files)}


def save_draft(session: Session, pathway: str, files: dict[str, str], based_on, actor) -> dict:
    if based_on is not None and parse_id(based_on) is None:
        raise InvalidInput(f"元の版 {based_on!r} が正しくありません。", {"based_on": "版の番号ではありません。"})
    draft = session.scalars(select(ModelDraft).where(ModelDraft.pathway == pathway)).first()
    if draft is None:
        draft = ModelDraft(pathway=pathway)
        session.add(draft)
    draft.files, draft.based_on = files, parse_id(based_on)
    draft.saved_by, draft.saved_at = actor, clock.now()
    session.flush()
    return draft_dict(draft)


def get_draft(session: Session, pathway: str) -> dict | None:
    draft = session.scalars(select(ModelDraft).where(ModelDraft.pathway == pathway)).first()
    return draft_dict(draft) if draft is not None else None


def discard_draft(session: Session, pathway: str) -> None:
    draft = session.scalars(select(ModelDraft).where(ModelDraft.pathway == pathway)).first()
    if draft is not None:
        session.delete(draft)


def draft_dict(draft) -> dict:
    return {"pathway": draft.pathway, "files": dict(draft.files), "based_on": draft.based_on,
            "saved_by": draft.saved_by,
            "saved_at": draft.saved_at.astimezone(clock.LOCAL_TZ).isoformat()}
