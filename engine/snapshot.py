"""What a workflow says about its case: finished steps, stage, status and case data.

The unit of work stores these beside the serialized workflow, so summaries and inboxes
read them without deserializing anything.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.defaults import CallActivity
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.util.task import TaskState

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def finished_since(workflow: BpmnWorkflow, since: float):
    """Tasks completed since ``since``, and tokens that reached a join.

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


def step_rows(finished) -> list[tuple]:
    """(process id, element id, previous element id, state) per finished BPMN element."""
    return [(t.workflow.spec.name, t.task_spec.bpmn_id, previous_element(t),
             "completed" if t.has_state(TaskState.COMPLETED) else "joined")
            for t in finished if t.task_spec.bpmn_id]


def previous_element(task) -> str | None:
    """The BPMN element a task came from, skipping SpiffWorkflow's internal tasks."""
    parent = task.parent
    while parent is not None and not parent.task_spec.bpmn_id:
        parent = parent.parent
    return parent.task_spec.bpmn_id if parent is not None else None


def extensions(task) -> dict:
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
              if t.has_state(ACTIVE) and extensions(t).get("stage")]
    if active:
        chosen = min(active, key=lambda t: (t.workflow not in own,
                                            not t.has_state(TaskState.READY),
                                            -t.last_state_change))
    else:
        staged = [t for t in finished if extensions(t).get("stage")]
        chosen = staged[-1] if staged else None
    stage = extensions(chosen).get("stage") if chosen else previous_stage
    status = extensions(chosen).get("status") if chosen else None
    if not status:
        status = "closed" if workflow.completed else "open"
    return stage, status


def own_workflows(workflow: BpmnWorkflow) -> list:
    """The main process and its embedded subprocesses; called processes are their own."""
    return [workflow, *(sp for sp in workflow.subprocesses.values() if not called_process(sp))]


def called_process(subprocess) -> bool:
    task = subprocess.top_workflow.get_task_from_id(subprocess.parent_task_id)
    return isinstance(task.task_spec, CallActivity)


def case_data(workflow: BpmnWorkflow, internal: frozenset[str] = frozenset()) -> dict:
    """The case's data: the task completed last in the main process or an embedded
    subprocess, plus their data objects, without the model's working variables."""
    workflows = own_workflows(workflow)
    tasks = [t for wf in workflows for t in wf.tasks.values() if t.has_state(TaskState.COMPLETED)]
    latest = max(tasks, key=lambda t: t.last_state_change, default=workflow.task_tree)
    data = dict(latest.data)
    for wf in workflows:
        data.update({k: v for k, v in wf.data_objects.items() if v is not None})
    return {k: v for k, v in data.items() if k not in internal}


def waiting_messages(workflow: BpmnWorkflow) -> dict[str, list]:
    """Message name -> the tasks waiting for it (the case events the case accepts now)."""
    waiting: dict[str, list] = {}
    for task in workflow.event_manager.tasks.values():
        definition = task.task_spec.event_definition
        if isinstance(definition, MessageEventDefinition):
            waiting.setdefault(definition.name, []).append(task)
    return waiting


def waiting_events(workflow: BpmnWorkflow) -> list[dict]:
    """The case events the case waits for, each with the element that waits for it."""
    return [{"name": name, "element": tasks[0].task_spec.name}
            for name, tasks in sorted(waiting_messages(workflow).items())]
