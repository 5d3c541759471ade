"""A case's SpiffWorkflow state: stored without its spec, and kept small.

The spec belongs to the deployment (parsed once and cached), so a case row holds only
tasks and data. SpiffWorkflow appends to the task tree forever, which makes a case that
loops through monitoring for years slower on every load and finally stalls it at the
iterator's depth limit. After each step we compact: the finished part of the tree above
the lowest common ancestor of all unfinished tasks is dropped, once recorded in our own
tables (``history.record_steps``).
"""
from __future__ import annotations

import json
import threading
from datetime import date, datetime
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.specs.mixins.unstructured_join import UnstructuredJoin
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.expressions import RestrictedScriptEngine


class CaseStateConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's workflow converter, minus the specs (they belong to the deployment)."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct['subprocesses'] = self.mapping_to_dict(workflow.subprocesses)
        dct['bpmn_events'] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct['tasks'], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct['root']))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct['subprocesses'], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop('bpmn_events', []))
        return workflow


class _Utf8Encoder(json.JSONEncoder):
    """Japanese stays UTF-8 instead of \\u escapes: case data shrinks to about half, and so
    do the reads and writes of every step."""

    def __init__(self, *args, **kwargs):
        kwargs["ensure_ascii"] = False
        super().__init__(*args, **kwargs)


_registry = BpmnWorkflowSerializer.configure({**CAMUNDA_CONFIG, BpmnWorkflow: CaseStateConverter})
_registry.register(date, lambda v: {'value': v.isoformat()}, lambda v: date.fromisoformat(v['value']))
_serializer = BpmnWorkflowSerializer(_registry, json_encoder_cls=_Utf8Encoder)
# serialize_json flips a mode flag on the shared registry while it runs.
_lock = threading.Lock()
_script_engine = RestrictedScriptEngine()

SERIALIZER_VERSION = _serializer.VERSION


def new_workflow(spec, subprocess_specs) -> BpmnWorkflow:
    return BpmnWorkflow(spec, subprocess_specs, script_engine=_script_engine)


def dump(workflow: BpmnWorkflow) -> str:
    with _lock:
        return _serializer.serialize_json(workflow)


def load(text: str, spec, subprocess_specs) -> BpmnWorkflow:
    dct = json.loads(text)
    _serializer.migrate(dct)
    workflow = _serializer.from_dict(dct, spec=spec, subprocess_specs=subprocess_specs)
    # Deserializing gives the workflow SpiffWorkflow's default eval-based engine.
    workflow.script_engine = _script_engine
    return workflow


def _all_workflows(workflow: BpmnWorkflow):
    yield workflow
    yield from workflow.subprocesses.values()


def compact(workflow: BpmnWorkflow) -> int:
    """Drop the finished tasks a workflow no longer needs; return how many were dropped.

    Kept: every unfinished task with everything below it (predictions, and the finished
    instances a multi-instance task still collects); the parent of each, up to the BPMN
    element it came from (joins read their inputs from ``task.parent``, the step log
    names the previous element); the instances of a join that is still waiting, with
    their parents; and the common ancestor of all of that as the new root. Finished
    chains in between are spliced out, so a case whose branches loop for years keeps a
    tree of constant size and depth. Subprocesses of dropped call activities go too.
    """
    dropped = 0
    for wf in list(_all_workflows(workflow)):
        if wf is not workflow and wf.parent_task_id not in workflow.subprocesses:
            continue  # removed with its parent in this pass
        # Predicted tasks hang below definite ones, except below a parked EndJoin.
        unfinished = [t for t in wf.tasks.values()
                      if t.has_state(TaskState.DEFINITE_MASK) and not _parked_at_end(t)]
        if not unfinished:
            continue
        root = _keep_from(_common_ancestor(unfinished))
        keep = _needed(root, unfinished)
        if len(keep) == len(wf.tasks):
            continue
        _splice(root, keep)
        for task_id in [tid for tid in wf.tasks if tid not in keep]:
            del wf.tasks[task_id]
            dropped += 1
            _drop_subprocess(workflow, task_id)
        root.parent = None
        wf.task_tree = root
        if wf.last_task is not None and wf.last_task.id not in keep:
            wf.last_task = None
    return dropped


def _needed(root, unfinished) -> set:
    keep = {root.id}
    for task in unfinished:
        keep |= _subtree_ids(task)
        keep |= {t.id for t in _chain_to_element(task)}
    ancestors = set()
    for task in unfinished:
        parent = task.parent
        while parent is not None and parent.id not in ancestors:
            ancestors.add(parent.id)
            parent = parent.parent
    waiting_joins = {t.task_spec for t in unfinished if isinstance(t.task_spec, UnstructuredJoin)}
    for task in _subtree(root):
        if task.task_spec in waiting_joins and task.id not in ancestors:
            # A cancelled instance still tells a waiting join that its input arrived.
            keep.add(task.id)
            keep |= {t.id for t in _chain_to_element(task)}
    return keep


def _chain_to_element(task):
    """The parents of a task up to and including the nearest BPMN element."""
    parent = task.parent
    while parent is not None:
        yield parent
        if parent.task_spec.bpmn_id:
            return
        parent = parent.parent


def _splice(root, keep: set) -> None:
    """Re-link the kept tasks: each one's parent becomes its nearest kept ancestor."""
    tasks = root.workflow.tasks
    children: dict = {task_id: [] for task_id in keep}
    stack = [(root, None)]  # (task, nearest kept strict ancestor), depth first, in order
    while stack:
        task, anchor = stack.pop()
        if task.id in keep:
            if anchor is not None:
                children[anchor].append(task)
                task.parent = tasks[anchor]
            anchor = task.id
        stack.extend((child, anchor) for child in reversed(task.children))
    for task_id, kids in children.items():
        tasks[task_id].children = kids


def _parked_at_end(task) -> bool:
    """A thread that reached an end event while others run waits in the process's EndJoin.

    It only tells the EndJoin that one thread is done; the EndJoin fires once no other
    task is unfinished. Holding it would pin the whole tree below it for the rest of the
    case, so it does not count as unfinished here.
    """
    return isinstance(task.task_spec, _EndJoin) and task.has_state(TaskState.WAITING)


def _drop_subprocess(workflow, task_id) -> None:
    """Forget the subprocess a dropped call activity ran, and any it called in turn."""
    subprocess = workflow.subprocesses.pop(task_id, None)
    if subprocess is not None:
        for child_id in list(subprocess.tasks):
            _drop_subprocess(workflow, child_id)


def _keep_from(ancestor):
    """Keep the BPMN element before the common ancestor too, so the step log can name
    the element each unfinished task came from."""
    anchor = ancestor.parent
    while anchor is not None and not anchor.task_spec.bpmn_id:
        anchor = anchor.parent
    return anchor if anchor is not None else ancestor


def _common_ancestor(tasks):
    def chain(task):
        path = []
        while task is not None:
            path.append(task)
            task = task.parent
        return path[::-1]

    common = chain(tasks[0])
    for task in tasks[1:]:
        path = chain(task)
        n = 0
        while n < len(common) and n < len(path) and common[n] is path[n]:
            n += 1
        common = common[:n]
    return common[-1]


def _subtree(root):
    stack = [root]
    while stack:
        task = stack.pop()
        yield task
        stack.extend(task.children)


def _subtree_ids(root) -> set:
    return {task.id for task in _subtree(root)}


def json_ready(value):
    """Task data as plain JSON: dates and datetimes become ISO strings."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, (list, tuple, set)):
        return [json_ready(v) for v in value]
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
