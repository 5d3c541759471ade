"""Path coverage of a pathway: which sequence flows and user tasks the cases went through.

The model side comes from the BPMN XML: the sequence flows (id, sourceRef, targetRef) and
the user tasks of one process, including those inside its embedded subprocesses. The run
side is the engine's step log (``case_steps``, :class:`engine.store.StepRecord`): one
record per finished BPMN element with the element the token came from
(``previous_spec_id``). A flow counts as taken when some record of that process has
``previous_spec_id == sourceRef`` and ``spec_id == targetRef`` (every incoming flow of a
parallel gateway that completed counts, as a join fires only when all have a token);
a user task was reached
when some record has its id. The step log holds finished elements; the database reader
adds the elements where cases wait now, so a flow into a task still open counts.

Step records come from a database or from JSONL dumps (one JSON object per line with
``process_id``, ``spec_id`` and ``previous_spec_id``; other lines are ignored), such as the
ones the behaviour-spec run writes under ``.kasane-coverage/``.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

from sqlalchemy import select

from engine import deployments, snapshot, state
from engine.errors import InvalidInput, NotFound
from engine.store import Case, Deployment, StepRecord

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SUBPROCESS_TAGS = ("subProcess", "transaction", "adHocSubProcess")
TASK_TAGS = ("userTask", "manualTask")


def _tag(name: str) -> str:
    return f"{{{BPMN_NS}}}{name}"


@dataclass(frozen=True)
class Flow:
    id: str
    source: str
    target: str
    name: str | None = None
    container: str = ""  # the process or embedded subprocess the flow belongs to


@dataclass(frozen=True)
class ModelTask:
    id: str
    name: str | None
    container: str = ""


@dataclass
class ProcessModel:
    """The elements of one process that coverage counts."""

    process_id: str
    name: str | None
    flows: list[Flow] = field(default_factory=list)
    tasks: list[ModelTask] = field(default_factory=list)
    containers: set[str] = field(default_factory=set)  # the process id and its subprocess ids
    parallel_gateways: set[str] = field(default_factory=set)
    called: list[str] = field(default_factory=list)  # processes its call activities call
    names: dict[str, str] = field(default_factory=dict)  # element id -> name


def _walk(container_el, container_id: str, model: ProcessModel) -> None:
    model.containers.add(container_id)
    for child in container_el:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{BPMN_NS}}}"):
            continue
        local = child.tag.split("}", 1)[1]
        element_id = child.get("id")
        if element_id and child.get("name"):
            model.names[element_id] = child.get("name")
        if local == "sequenceFlow":
            model.flows.append(Flow(element_id, child.get("sourceRef"), child.get("targetRef"),
                                    child.get("name"), container_id))
        elif local == "callActivity" and child.get("calledElement"):
            if child.get("calledElement") not in model.called:
                model.called.append(child.get("calledElement"))
        elif local == "parallelGateway":
            model.parallel_gateways.add(element_id)
        elif local in TASK_TAGS:
            model.tasks.append(ModelTask(element_id, child.get("name"), container_id))
        elif local in SUBPROCESS_TAGS:
            _walk(child, element_id, model)


def parse_process(xml: str | bytes, process_id: str) -> ProcessModel | None:
    """The flows and user tasks of process_id in one BPMN document (None if it is not there)."""
    if isinstance(xml, str):
        xml = xml.encode("utf-8")
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise InvalidInput(f"BPMN を XML として読めません: {exc}") from exc
    for process in root.iter(_tag("process")):
        if process.get("id") == process_id:
            model = ProcessModel(process_id, process.get("name"))
            _walk(process, process_id, model)
            return model
    return None


def find_process(files: Mapping[str, str], process_id: str) -> ProcessModel:
    """The process among several BPMN files (name -> XML text); DMN files are skipped."""
    unreadable = []
    for name, text in files.items():
        if name.endswith(".dmn"):
            continue
        try:
            model = parse_process(text, process_id)
        except InvalidInput:
            unreadable.append(name)
            continue
        if model is not None:
            return model
    skipped = f"（XML として読めないファイル: {', '.join(unreadable)}）" if unreadable else ""
    raise NotFound(f"プロセス '{process_id}' が見つかりません。{skipped}")


def read_model_dir(path: str | Path) -> dict[str, str]:
    """BPMN files under a folder (or one file), keyed by their path."""
    path = Path(path)
    if path.is_file():  # bytes: the XML declaration says how the file is encoded
        return {path.name: path.read_bytes()}
    if not path.is_dir():
        raise NotFound(f"ファイルまたはフォルダが見つかりません: {path}")
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in sorted(path.rglob("*.bpmn"))}


# ---- step records --------------------------------------------------------------------------

def _record(row) -> dict:
    """A step record as a dict; ``state`` is ``completed`` (the step log) or ``waiting``."""
    if isinstance(row, Mapping):
        return {"process_id": row.get("process_id"), "spec_id": row.get("spec_id"),
                "previous_spec_id": row.get("previous_spec_id"),
                "state": row.get("state") or "completed"}
    return {"process_id": row.process_id, "spec_id": row.spec_id,
            "previous_spec_id": row.previous_spec_id,
            "state": getattr(row, "state", None) or "completed"}


def database_records(session, process_ids: Iterable[str] | None = None,
                     include_pending: bool = True) -> list[dict]:
    """Step records from the engine's database (optionally only of some processes).

    The step log holds finished elements only; with include_pending, the elements where
    cases wait now (open user tasks, waiting events) count too, since a token took the
    flow into them.
    """
    query = select(StepRecord.process_id, StepRecord.spec_id, StepRecord.previous_spec_id,
                   StepRecord.state)
    if process_ids is not None:
        query = query.where(StepRecord.process_id.in_(list(process_ids)))
    records = [_record(row) for row in session.execute(query.order_by(StepRecord.id))]
    if include_pending:
        wanted = None if process_ids is None else set(process_ids)
        records.extend(r for r in pending_records(session)
                       if wanted is None or r["process_id"] in wanted)
    return records


def pending_records(session) -> list[dict]:
    """Where the cases are now: one record per active BPMN element (not yet in the step log).

    Reads the stored workflows without a unit of work, which would fire due timers.
    """
    records = []
    for row in session.scalars(select(Case).order_by(Case.id)):
        pathway = deployments.load_pathway(session.get(Deployment, row.deployment_id))
        workflow = state.load(row.state, pathway.spec, pathway.subprocess_specs)
        for wf in [workflow, *workflow.subprocesses.values()]:
            for task in wf.tasks.values():
                if task.has_state(snapshot.ACTIVE) and task.task_spec.bpmn_id:
                    records.append({"process_id": wf.spec.name, "spec_id": task.task_spec.bpmn_id,
                                    "previous_spec_id": snapshot.previous_element(task),
                                    "state": "waiting"})
    return records


def write_dump(path: str | Path, records: Iterable, header: dict | None = None) -> None:
    """Write step records as JSONL; an optional first line holds the header object."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        if header is not None:
            out.write(json.dumps({"header": header}, ensure_ascii=False) + "\n")
        for row in records:
            out.write(json.dumps(_record(row), ensure_ascii=False) + "\n")


def dump_files(path: str | Path) -> list[Path]:
    path = Path(path)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(path.rglob("*.jsonl"))
        if not files:
            raise NotFound(f"ステップ記録（*.jsonl）がありません: {path}")
        return files
    raise NotFound(f"ファイルまたはフォルダが見つかりません: {path}")


def read_dump_headers(path: str | Path) -> list[dict]:
    """The header objects of the dumps under path (one per file that has one)."""
    headers = []
    for file in dump_files(path):
        with file.open(encoding="utf-8") as lines:
            first = lines.readline()
        try:
            item = json.loads(first) if first.strip() else None
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and isinstance(item.get("header"), dict):
            headers.append(item["header"])
    return headers


def read_dumps(path: str | Path) -> list[dict]:
    """Step records from a JSONL file or from every ``*.jsonl`` under a folder."""
    records = []
    for file in dump_files(path):
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInput(f"{file}:{number} は JSON として読めません: {exc.msg}") from exc
            if isinstance(item, dict) and item.get("spec_id"):
                records.append(_record(item))
    return records


# ---- the report ----------------------------------------------------------------------------

def coverage_report(model: ProcessModel, records: Iterable) -> dict:
    """Which flows were taken and which user tasks were reached, given step records."""
    steps: set[tuple[str | None, str]] = set()
    reached: set[str] = set()
    completed: set[str] = set()
    for row in map(_record, records):
        if row["process_id"] not in model.containers:
            continue
        steps.add((row["previous_spec_id"], row["spec_id"]))
        reached.add(row["spec_id"])
        if row["state"] == "completed":
            completed.add(row["spec_id"])
    # A parallel join fires only once a token came in on every incoming flow, but the
    # step log names only one of them as the join's previous element.
    for flow in model.flows:
        if flow.target in model.parallel_gateways and flow.target in completed:
            steps.add((flow.source, flow.target))
    taken = [f for f in model.flows if (f.source, f.target) in steps]
    missing = [f for f in model.flows if (f.source, f.target) not in steps]
    tasks_reached = [t for t in model.tasks if t.id in reached]
    tasks_missing = [t for t in model.tasks if t.id not in reached]

    def label(element_id: str) -> str:
        return model.names.get(element_id) or element_id

    return {
        "pathway": model.process_id,
        "name": model.name,
        "flows": {
            "total": len(model.flows),
            "taken": len(taken),
            "missing": [f.id for f in missing],
            "missing_detail": [{"id": f.id, "name": f.name, "source": label(f.source),
                                "target": label(f.target)} for f in missing],
        },
        "tasks": {
            "total": len(model.tasks),
            "reached": len(tasks_reached),
            "missing": [t.id for t in tasks_missing],
            "missing_detail": [{"id": t.id, "name": t.name} for t in tasks_missing],
        },
        "complete": not missing and not tasks_missing,
    }


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def summary_line(report: dict) -> str:
    flows, tasks = report["flows"], report["tasks"]
    return (f"{report['pathway']}: シーケンスフロー {flows['taken']}/{flows['total']} "
            f"({_percent(flows['taken'], flows['total'])})、ユーザータスク "
            f"{tasks['reached']}/{tasks['total']} ({_percent(tasks['reached'], tasks['total'])})")


def render_text(report: dict) -> str:
    """The report for people: a summary line, then what was never taken."""
    lines = [summary_line(report)]
    missing = report["flows"]["missing_detail"]
    if missing:
        lines.append("通っていないシーケンスフロー:")
        for flow in missing:
            name = f" [{flow['name']}]" if flow["name"] else ""
            lines.append(f"  {flow['id']}: {flow['source']} → {flow['target']}{name}")
    missing_tasks = report["tasks"]["missing_detail"]
    if missing_tasks:
        lines.append("一度も到達していないユーザータスク:")
        lines.extend(f"  {t['id']}: {t['name'] or ''}" for t in missing_tasks)
    return "\n".join(lines)
