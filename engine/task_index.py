"""The index of READY user tasks: inboxes and case summaries read it, never the workflow."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine import agencies, clock, timers
from engine.errors import ModelFailure
from engine.expressions import is_iso_literal
from engine.store import HumanTask

TASKS = HumanTask.__table__
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=timezone.utc)  # sorts tasks without a due date last


def task_dict(task, with_case: bool = False, now: datetime | None = None) -> dict:
    now = now or clock.now()
    result = {"task_id": task.id, "name": task.name, "role": task.role, "form": task.form_key,
              "due": task.due_at.astimezone(clock.LOCAL_TZ).isoformat() if task.due_at else None,
              "overdue": task.due_at is not None and task.due_at < now, "element": task.spec_id}
    if with_case:
        result.update(case_id=task.case_id, stage=task.stage, claimed_by=task.claimed_by,
                      created=task.created_at.astimezone(clock.LOCAL_TZ).isoformat())
    return result


def open_tasks_of(session: Session, case_id: int) -> list[dict]:
    """The case's open tasks, oldest first (as ``index_ready_tasks`` returns them)."""
    rows = session.connection().execute(
        select(TASKS).where(TASKS.c.case_id == case_id, TASKS.c.state == "open")
        .order_by(TASKS.c.created_at, TASKS.c.name))
    now = clock.now()
    return [task_dict(row, now=now) for row in rows]


def form_key(task_spec) -> str | None:
    form = getattr(task_spec, "form", None)
    return form.key if form is not None and form.key else None


def index_ready_tasks(session: Session, case, workflow) -> list[dict]:
    """Make the index match the workflow: add new READY user tasks, cancel vanished ones.
    Returns the case's open tasks as ``open_tasks_of`` would read them now."""
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY)
             if t.task_spec.manual}
    # Plain statements on the connection, as for history: the index is never held as
    # objects while a case changes.
    connection = session.connection()
    rows = {row.id: row for row in connection.execute(select(TASKS).where(
        TASKS.c.case_id == case.id, TASKS.c.state == "open"))}
    indexed = set(rows)
    now = clock.now()
    gone = indexed - set(ready)
    if gone:
        connection.execute(update(TASKS).where(TASKS.c.id.in_(gone))
                           .values(state="cancelled", closed_at=now))
    new = []
    for task_id, task in ready.items():
        if task_id in indexed:
            continue
        extensions = task.task_spec.extensions or {}
        due = due_time(task, now, case.id)
        new.append({"id": task_id, "case_id": case.id, "spec_id": task.task_spec.name,
                    "name": task.task_spec.bpmn_name or task.task_spec.name,
                    "role": task.task_spec.lane, "form_key": form_key(task.task_spec),
                    "stage": extensions.get("stage"), "created_at": now, "due_at": due,
                    "due_sort": due or NO_DUE_DATE, "assigned_to": extensions.get("assignTo"),
                    "reads": extensions.get("reads"),
                    "state": "open"})
    if new:
        connection.execute(insert(TASKS), new)
    for task_id, task in ready.items():
        refer_to = (task.task_spec.extensions or {}).get("referTo")
        if task_id not in indexed and refer_to:
            agencies.refer(session, case, [k.strip() for k in refer_to.split(",") if k.strip()],
                           task.task_spec.bpmn_id or task.task_spec.name)
    still_open = [rows[task_id] for task_id in indexed - gone] + [SimpleNamespace(**row) for row in new]
    return [task_dict(t, now=now) for t in sorted(still_open, key=lambda t: (t.created_at, t.name))]


def due_time(task, created, case_id: int | None = None):
    expression = (task.task_spec.extensions or {}).get("dueDate")
    if not expression:
        return None
    try:
        value = expression if is_iso_literal(expression) else \
            task.workflow.script_engine.evaluate(task, expression)
        return timers.to_instant(value, start=created)
    except (SpiffWorkflowException, ValueError) as exc:
        fields = {"element": task.task_spec.name}
        if getattr(exc, "limit", None):
            fields["limit"] = exc.limit
        raise ModelFailure(f"タスク「{task.task_spec.bpmn_name}」（要素 {task.task_spec.name}）の期限 "
                           f"{expression!r} を評価できません: {exc}", fields, case_id=case_id) from exc


def rename_open_tasks(session: Session, case, workflow) -> None:
    """After a migration, open tasks keep their ids; their names follow the new version."""
    connection = session.connection()
    for task in workflow.get_tasks(state=TaskState.READY):
        if task.task_spec.manual:
            connection.execute(update(TASKS).where(TASKS.c.id == str(task.id), TASKS.c.state == "open")
                               .values(name=task.task_spec.bpmn_name or task.task_spec.name,
                                       stage=(task.task_spec.extensions or {}).get("stage")))
