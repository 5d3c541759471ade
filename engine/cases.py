"""Cases: open one on a pathway, load and save its workflow, and summarise it.

Every change to a case goes through ``load_case`` → SpiffWorkflow → ``save_case`` inside
the caller's transaction. ``save_case`` records finished steps, compacts the task tree,
re-indexes human tasks, and refreshes the stage, timers and data snapshot that
summaries and inboxes read without deserializing the workflow.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.defaults import CallActivity
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from engine import clock, deployments, history, human_tasks, modelerrors, state, storable, timers
from engine.deployments import Pathway
from engine.errors import InvalidInput, NotFound
from engine.store import Case
from engine.users import get_user

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


@dataclass
class LoadedCase:
    row: Case
    pathway: Pathway
    workflow: BpmnWorkflow
    loaded_at: float  # SpiffWorkflow stamps state changes with time.time()
    fired_timers: list = field(default_factory=list)


def get_case_row(session: Session, case_id) -> Case:
    try:
        case = session.get(Case, int(case_id))
    except (TypeError, ValueError):
        case = None
    if case is None:
        raise NotFound(f"ケース '{case_id}' が見つかりません。")
    return case


def load_case(session: Session, case_id) -> LoadedCase:
    row = get_case_row(session, case_id)
    pathway = deployments.load_pathway(row.deployment)
    loaded_at = time.time()
    workflow = state.load(row.state, pathway.spec, pathway.subprocess_specs)
    loaded = LoadedCase(row, pathway, workflow, loaded_at)
    try:
        loaded.fired_timers = timers.fire_due_timers(workflow)
    except SpiffWorkflowException as exc:
        raise model_error(exc) from exc
    for timer in loaded.fired_timers:
        history.append(session, row.id, "timer_fired", name=timer["name"],
                       element=timer["element"], due=timer["due"])
    return loaded


def open_case(session: Session, pathway_id: str, actor: str, data: dict | None = None) -> dict:
    user = get_user(session, actor)
    deployment = deployments.latest_deployment(session, pathway_id)
    if deployment is None:
        raise NotFound(f"パスウェイ '{pathway_id}' はデプロイされていません。")
    data = check_flat_object(data or {})
    pathway = deployments.load_pathway(deployment)
    loaded_at = time.time()
    workflow = state.new_workflow(pathway.spec, pathway.subprocess_specs)
    workflow.task_tree.data.update(data)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    now = clock.now()
    row = Case(deployment=deployment, pathway=pathway_id, state="", serializer_version="",
               opened_at=now, opened_by=user.name, updated_at=now)
    session.add(row)
    session.flush()
    history.append(session, row.id, "opened", actor=user.name, name=pathway.name,
                   pathway=pathway_id, version=pathway.version, data=data)
    loaded = LoadedCase(row, pathway, workflow, loaded_at)
    run_engine_steps(session, loaded)
    save_case(session, loaded)
    return summary(session, row)


def check_flat_object(data) -> dict:
    """Data for a task or event with no form: a flat JSON object."""
    if not isinstance(data, dict):
        raise InvalidInput("データは JSON オブジェクトで指定してください。")
    nested = {k: "入れ子の値は使用できません。" for k, v in data.items()
              if isinstance(v, (dict, list))}
    bad_keys = {k: "項目名は識別子にしてください。" for k in data
                if not isinstance(k, str) or not k.isidentifier() or k.startswith("_")}
    if nested or bad_keys:
        raise InvalidInput("データが正しくありません。", {**nested, **bad_keys})
    return data


def run_engine_steps(session: Session, loaded: LoadedCase) -> None:
    """Run the workflow until it waits for people, messages or time."""
    try:
        loaded.workflow.do_engine_steps()
    except SpiffWorkflowException as exc:
        raise model_error(exc) from exc


def model_error(exc: Exception) -> InvalidInput:
    return modelerrors.model_error(exc)


def save_case(session: Session, loaded: LoadedCase) -> None:
    workflow, row = loaded.workflow, loaded.row
    finished = list(finished_since(workflow, loaded.loaded_at))
    history.record_steps(session, row.id, [
        (t.workflow.spec.name, t.task_spec.bpmn_id, previous_element(t), state_name(t))
        for t in finished if t.task_spec.bpmn_id])
    # Events no element of the case caught (a signal nobody waits for): nothing outside
    # the case listens, so they would only pile up in the stored state.
    workflow.get_events()
    row.stage, row.status = stage_and_status(workflow, finished, row.stage)
    state.compact(workflow)
    storable.check_workflow(workflow, since=loaded.loaded_at)  # InvalidInput: element, path
    human_tasks.index_ready_tasks(session, row, workflow)
    row.timers, row.next_timer_at = timers.pending_timers(workflow)
    row.data = state.json_ready(case_data(workflow))
    row.state = state.dump(workflow)
    row.serializer_version = state.SERIALIZER_VERSION
    row.updated_at = clock.now()
    session.flush()


def finished_since(workflow: BpmnWorkflow, since: float):
    """Tasks completed since the case was loaded, and tokens that reached a join.

    When a parallel join fires, SpiffWorkflow completes one of its instances and cancels
    the others; each cancelled instance is a branch that arrived, so it is logged too.
    """
    workflows = [workflow, *workflow.subprocesses.values()]
    tasks = [t for wf in workflows for t in wf.tasks.values()
             if t.last_state_change >= since and (
                 t.has_state(TaskState.COMPLETED) or joined_branch(t))]
    return sorted(tasks, key=lambda t: t.last_state_change)


def joined_branch(task) -> bool:
    return (task.has_state(TaskState.CANCELLED) and isinstance(task.task_spec, UnstructuredJoin)
            and not isinstance(task.task_spec, _EndJoin) and task.parent is not None
            and task.parent.has_state(TaskState.COMPLETED))


def state_name(task) -> str:
    return "completed" if task.has_state(TaskState.COMPLETED) else "joined"


def previous_element(task) -> str | None:
    """The BPMN element a task came from, skipping SpiffWorkflow's internal tasks."""
    parent = task.parent
    while parent is not None and not parent.task_spec.bpmn_id:
        parent = parent.parent
    return parent.task_spec.bpmn_id if parent is not None else None


def _extensions(task) -> dict:
    return getattr(task.task_spec, "extensions", None) or {}


def stage_and_status(workflow: BpmnWorkflow, finished, previous_stage):
    """The stage comes from the model: the ``stage`` property of the element the case is at.

    Preference: elements of the main process and its embedded subprocesses over those of
    called processes, user tasks over waiting events, then the most recent. With nothing
    active, the last finished element that names a stage (an end event, say) decides.
    ``status`` may be set beside ``stage``.
    """
    own = own_workflows(workflow)
    workflows = [workflow, *workflow.subprocesses.values()]
    active = [t for wf in workflows for t in wf.tasks.values()
              if t.has_state(ACTIVE) and _extensions(t).get("stage")]
    if active:
        chosen = min(active, key=lambda t: (t.workflow not in own,
                                            not t.has_state(TaskState.READY),
                                            -t.last_state_change))
    else:
        staged = [t for t in finished if _extensions(t).get("stage")]
        chosen = staged[-1] if staged else None
    stage = _extensions(chosen).get("stage") if chosen else previous_stage
    status = _extensions(chosen).get("status") if chosen else None
    if not status:
        status = "closed" if workflow.completed else "open"
    return stage, status


def own_workflows(workflow: BpmnWorkflow) -> list:
    """The main process and its embedded subprocesses; called processes are their own."""
    return [workflow, *(sp for sp in workflow.subprocesses.values() if not called_process(sp))]


def called_process(subprocess) -> bool:
    task = subprocess.top_workflow.get_task_from_id(subprocess.parent_task_id)
    return isinstance(task.task_spec, CallActivity)


def case_data(workflow: BpmnWorkflow) -> dict:
    """The case's data: the task completed last in the main process or an embedded
    subprocess, plus their data objects."""
    workflows = own_workflows(workflow)
    tasks = [t for wf in workflows for t in wf.tasks.values() if t.has_state(TaskState.COMPLETED)]
    latest = max(tasks, key=lambda t: t.last_state_change, default=workflow.task_tree)
    data = dict(latest.data)
    for wf in workflows:
        data.update({k: v for k, v in wf.data_objects.items() if v is not None})
    return data


def summary(session: Session, row: Case, with_history: bool = False) -> dict:
    result = {
        "case_id": row.id,
        "pathway": row.pathway,
        "version": row.deployment.version,
        "status": row.status,
        "stage": row.stage,
        "tasks": human_tasks.open_tasks_of(session, row.id),
        "timers": list(row.timers),
        "data": dict(row.data),
    }
    if with_history:
        result["history"] = history.entries(session, row.id)
    return result


def show_case(session: Session, case_id) -> dict:
    return summary(session, get_case_row(session, case_id), with_history=True)
