"""One unit of work on a case: load it, fire its due timers, let the caller act, run the
engine steps, record, index and save — all inside the caller's transaction.

Completing a task, sending an event and the timer sweep are each just the body of this
unit; a read whose case has timers due runs an empty body. Nothing here commits: if any
part fails, the transaction rolls back and the case stays exactly as it was.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import update
from sqlalchemy.orm import Session

from engine import (clock, deployments, history, limits, modelerrors, snapshot, state, storable,
                    task_index, timers)
from engine.deployments import Pathway
from engine.errors import InvalidInput, ModelFailure, NotFound
from engine.store import Case, Incident, parse_id

INCIDENTS = Incident.__table__


@dataclass
class LoadedCase:
    row: Case
    pathway: Pathway
    workflow: BpmnWorkflow
    loaded_at: float  # SpiffWorkflow stamps state changes with time.time(); moves on as
    # finished elements are recorded
    fired_timers: list = field(default_factory=list)
    deadline: float | None = None  # see engine_deadline
    finished: list = field(default_factory=list)  # every element finished in this unit
    started_at: float = field(default_factory=time.time)  # when the unit loaded the case
    open_incident: bool = False  # when it was loaded
    open_tasks: list | None = None  # once saved: its open tasks (task_index.task_dict)


def get_case_row(session: Session, case_id) -> Case:
    number = parse_id(case_id)
    case = session.get(Case, number) if number is not None else None
    if case is None:
        raise NotFound(f"ケース '{case_id}' が見つかりません。")
    return case


def model_error(exc: Exception, case_id: int | None = None) -> ModelFailure:
    """The model failed: which element, and why (``modelerrors``), noted for the case."""
    told = modelerrors.model_error(exc)
    return ModelFailure(told.message, told.fields, case_id=case_id)


def load_case(session: Session, case_id, fire: bool = True) -> LoadedCase:
    """Load a case and fire the timers already due, so nobody acts on a past state
    (``fire=False``: only to look at the stored state, changing nothing)."""
    row = get_case_row(session, case_id)
    pathway = deployments.load_pathway(row.deployment)
    loaded = LoadedCase(row, pathway, state.load(row.state, pathway.spec, pathway.subprocess_specs),
                        time.time(), open_incident=row.open_incident)
    if fire:
        fire_timers(session, loaded)
    return loaded


def new_case(session: Session, deployment, opened_by: str, data: dict) -> LoadedCase:
    pathway = deployments.load_pathway(deployment)
    workflow = state.new_workflow(pathway.spec, pathway.subprocess_specs)
    workflow.task_tree.data.update(data)
    for task in workflow.get_tasks(state=TaskState.READY):
        task.data.update(data)
    now = clock.now()
    row = Case(deployment=deployment, pathway=deployment.pathway, state="", serializer_version="",
               opened_at=now, opened_by=opened_by, updated_at=now)
    session.add(row)
    session.flush()
    return LoadedCase(row, pathway, workflow, time.time())


def engine_deadline(loaded: LoadedCase) -> float:
    """When the case's time (max_case_seconds) runs out in this unit of work: counted from
    the moment its engine first runs, so that waiting for the database does not count."""
    if loaded.deadline is None:
        loaded.deadline = time.monotonic() + limits.current().max_case_seconds
    return loaded.deadline


def fire_timers(session: Session, loaded: LoadedCase) -> None:
    try:
        fired = timers.fire_due_timers(loaded.workflow, lambda: run_engine_steps(session, loaded),
                                       deadline=engine_deadline(loaded))
    except (SpiffWorkflowException, timers.TimerFailure) as exc:
        raise model_error(exc, loaded.row.id) from exc
    loaded.fired_timers += fired
    for timer in fired:
        history.append(session, loaded.row.id, "timer_fired", name=timer["name"],
                       element=timer["element"], due=timer["due"],
                       **({"skipped": timer["skipped"]} if timer.get("skipped") else {}))


def run_engine_steps(session: Session, loaded: LoadedCase) -> None:
    """Run the workflow until it waits for people, messages or time, within the budget.

    SpiffWorkflow stops looking for READY tasks a thousand levels down the task tree, so a
    loop of scripts and gateways would stall silently; recording and compacting between
    rounds keeps the tree shallow, and the budget turns a loop that never waits into an
    incident.
    """
    budget = limits.current()
    workflow = loaded.workflow
    deadline = engine_deadline(loaded)
    steps = 0

    def count_step(task):
        nonlocal steps
        steps += 1
        if steps > budget.max_engine_steps:
            raise _NoWaitState(task, "max_engine_steps")
        if time.monotonic() > deadline:  # the case's evaluations took their time
            raise _NoWaitState(task, "max_case_seconds")

    while True:
        try:
            workflow.do_engine_steps(did_complete_task=count_step)
        except _NoWaitState as stop:
            spec = stop.task.task_spec
            where = f"要素 {spec.bpmn_id or spec.name}（{spec.bpmn_name or ''}）"
            why = (f"{where}の周辺で繰り返しが続いています（上限: {budget.max_engine_steps} ステップ）"
                   if stop.limit == "max_engine_steps" else
                   f"{where}までの処理に時間がかかりすぎています（上限: {budget.max_case_seconds:g} 秒）")
            raise ModelFailure(
                f"パスウェイが待ち状態（人・イベント・時刻を待つ要素）に達しません。{why}。",
                {"element": spec.bpmn_id or spec.name, "limit": stop.limit},
                case_id=loaded.row.id) from None
        except SpiffWorkflowException as exc:
            raise model_error(exc, loaded.row.id) from exc
        record_and_compact(session, loaded)
        if not any(not t.task_spec.manual for t in workflow.get_tasks(state=TaskState.READY)):
            return


class _NoWaitState(Exception):
    def __init__(self, task, limit: str):
        super().__init__(task.task_spec.name)
        self.task, self.limit = task, limit


def record_and_compact(session: Session, loaded: LoadedCase) -> list:
    """Log the elements finished since the last call, then drop them from the tree."""
    workflow, row = loaded.workflow, loaded.row
    finished = snapshot.finished_since(workflow, loaded.loaded_at)
    history.record_steps(session, row.id, snapshot.step_rows(finished))
    loaded.loaded_at = time.time()
    loaded.finished += finished
    if finished:  # otherwise the tree is as the last compaction (or the last save) left it
        state.compact(workflow)
    return finished


def save_case(session: Session, loaded: LoadedCase) -> None:
    workflow, row = loaded.workflow, loaded.row
    # Events no element of the case caught (a signal nobody waits for): nothing outside
    # the case listens, so they would only pile up in the stored state.
    workflow.get_events()
    record_and_compact(session, loaded)
    try:  # values a model made that cannot be stored as JSON never reach the store
        storable.check_workflow(workflow, since=loaded.started_at)
    except InvalidInput as exc:
        raise ModelFailure(exc.message, exc.fields, case_id=row.id) from exc
    row.stage, row.status = snapshot.stage_and_status(workflow, loaded.finished, row.stage)
    try:
        row.timers, row.next_timer_at = timers.pending_timers(workflow)
    except ValueError as exc:
        raise model_error(exc, row.id) from exc
    row.data = state.json_ready(snapshot.case_data(workflow, loaded.pathway.internal))
    row.events = snapshot.waiting_events(workflow)
    row.state = state.dump(workflow)
    row.serializer_version = state.SERIALIZER_VERSION
    row.updated_at = clock.now()
    # The case ran: whatever failed before (and made an incident) no longer does.
    row.retry_at = None
    # The case's versioned UPDATE goes first. Two units that loaded the same version (two
    # reads firing the same due timer) make the same new tasks, with the same ids: on
    # PostgreSQL the later one waits here for the first to commit and then fails the
    # version check, a Conflict, instead of colliding in the task index.
    session.flush()
    loaded.open_tasks = task_index.index_ready_tasks(session, row, workflow)
    if loaded.open_incident:
        session.execute(update(INCIDENTS).where(INCIDENTS.c.case_id == row.id,
                                                INCIDENTS.c.resolved_at.is_(None))
                        .values(resolved_at=row.updated_at))
    session.flush()  # a referral the new tasks made (agencies.refer) changes the row again


@contextmanager
def case_unit(session: Session, case_id):
    """Load (firing due timers), let the caller act, run the engine, save."""
    loaded = load_case(session, case_id)
    yield loaded
    run_engine_steps(session, loaded)
    save_case(session, loaded)


def timers_due(row: Case) -> bool:
    """Timers due, and not waiting after a failure (see ``incidents.record``)."""
    now = clock.now()
    return (row.next_timer_at is not None and row.next_timer_at <= now
            and (row.retry_at is None or row.retry_at <= now))
