"""Human tasks: the index of READY user tasks, inbox queries, and completing a task."""
from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from engine import clock, timers
from engine.errors import Conflict, InvalidInput, NotFound
from engine.expressions import is_iso_literal
from engine.modelcheck import validation_refs
from engine.store import HumanTask
from engine.users import get_user, require_role
from forms.validation import validate_form

TASKS = HumanTask.__table__


def task_dict(task: HumanTask, with_case: bool = False) -> dict:
    result = {"task_id": task.id, "name": task.name, "role": task.role, "form": task.form_key,
              "due": task.due_at.astimezone(clock.LOCAL_TZ).isoformat() if task.due_at else None}
    if with_case:
        result.update(case_id=task.case_id, stage=task.stage, claimed_by=task.claimed_by,
                      created=task.created_at.astimezone(clock.LOCAL_TZ).isoformat())
    return result


def open_tasks_of(session: Session, case_id: int) -> list[dict]:
    rows = session.connection().execute(
        select(TASKS).where(TASKS.c.case_id == case_id, TASKS.c.state == "open")
        .order_by(TASKS.c.created_at, TASKS.c.name))
    return [task_dict(row) for row in rows]


def list_tasks(session: Session, case_id=None, role: str | None = None) -> list[dict]:
    query = select(HumanTask).where(HumanTask.state == "open")
    if case_id is not None:
        from engine.cases import get_case_row
        query = query.where(HumanTask.case_id == get_case_row(session, case_id).id)
    if role is not None:
        query = query.where(HumanTask.role == role)
    query = query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at,
                           HumanTask.id)
    return [task_dict(t, with_case=True) for t in session.scalars(query)]


def form_key(task_spec) -> str | None:
    form = getattr(task_spec, "form", None)
    return form.key if form is not None and form.key else None


def index_ready_tasks(session: Session, case, workflow) -> None:
    """Make the index match the workflow: add new READY user tasks, cancel vanished ones."""
    ready = {str(t.id): t for t in workflow.get_tasks(state=TaskState.READY)
             if t.task_spec.manual}
    # Plain statements on the connection, as for history: the index is never held as
    # objects while a case changes.
    connection = session.connection()
    indexed = set(connection.scalars(select(TASKS.c.id).where(
        TASKS.c.case_id == case.id, TASKS.c.state == "open")))
    now = clock.now()
    gone = indexed - set(ready)
    if gone:
        connection.execute(update(TASKS).where(TASKS.c.id.in_(gone))
                           .values(state="cancelled", closed_at=now))
    new = [{"id": task_id, "case_id": case.id, "spec_id": task.task_spec.name,
            "name": task.task_spec.bpmn_name or task.task_spec.name, "role": task.task_spec.lane,
            "form_key": form_key(task.task_spec),
            "stage": (task.task_spec.extensions or {}).get("stage"), "created_at": now,
            "due_at": due_time(task, now), "state": "open"}
           for task_id, task in ready.items() if task_id not in indexed]
    if new:
        connection.execute(insert(TASKS), new)


def due_time(task, created):
    expression = (task.task_spec.extensions or {}).get("dueDate")
    if not expression:
        return None
    try:
        value = expression if is_iso_literal(expression) else \
            task.workflow.script_engine.evaluate(task, expression)
        return timers.to_instant(value, start=created)
    except (SpiffWorkflowException, ValueError) as exc:
        raise InvalidInput(f"タスク「{task.task_spec.bpmn_name}」の期限 {expression!r} を"
                           f"評価できません: {exc}") from exc


def check_validation_rule(pathway, task, values: dict) -> None:
    """A user task may name DMN decisions (property ``validation``) that refuse data.

    ``validation`` holds one decision id or several, separated by commas; every one is
    evaluated. Each sees the data objects in scope, the task data and the submitted form.
    A matched rule whose output ``エラー`` is not empty refuses the completion; the messages
    of all decisions are combined, in the order the property names them.
    """
    refs = validation_refs((task.task_spec.extensions or {}).get("validation"))
    if not refs:
        return
    saved = task.data
    data_objects = {}
    wf = task.workflow
    while wf is not None:  # data objects of enclosing processes, innermost winning
        data_objects = {**wf.data_objects, **data_objects}
        wf = wf.parent_workflow
    task.data = {**data_objects, **saved, **values}
    messages = []
    try:
        for ref in refs:
            found = pathway.decisions[ref].result(task).get("エラー")
            messages += found if isinstance(found, list) else [found]
    except SpiffWorkflowException as exc:
        from engine.cases import model_error
        raise model_error(exc) from exc
    finally:
        task.data = saved
    messages = [str(m) for m in messages if m]
    if messages:
        raise InvalidInput(" ".join(messages))


def get_open_task(session: Session, task_id: str):
    row = session.connection().execute(select(TASKS).where(TASKS.c.id == str(task_id))).first()
    if row is None:
        raise NotFound(f"タスク '{task_id}' が見つかりません。")
    if row.state != "open":
        done = "既に完了しています" if row.state == "completed" else "取り消されています"
        raise Conflict(f"タスク「{row.name}」は{done}。")
    return row


def complete_task(session: Session, task_id: str, actor: str, data=None) -> dict:
    from engine import cases, history

    user = get_user(session, actor)
    row = get_open_task(session, task_id)
    require_role(user, row.role, f"タスク「{row.name}」の完了")
    if row.claimed_by and row.claimed_by != user.name:
        raise Conflict(f"タスク「{row.name}」は {row.claimed_by} が担当しています。")
    values = validate_form(row.form_key, data)
    loaded = cases.load_case(session, row.case_id)
    task = loaded.workflow.get_task_from_id(UUID(row.id))
    if task is None or not task.has_state(TaskState.READY):
        raise Conflict(f"タスク「{row.name}」は完了できる状態ではありません。")
    check_validation_rule(loaded.pathway, task, values)
    before = dict(task.data)
    task.data.update(values)
    try:
        task.run()
    except SpiffWorkflowException as exc:
        raise cases.model_error(exc) from exc
    cases.run_engine_steps(session, loaded)
    session.connection().execute(update(TASKS).where(TASKS.c.id == row.id).values(
        state="completed", closed_at=clock.now(), closed_by=user.name))
    changes = {k: v for k, v in values.items() if k not in before or before[k] != v}
    history.append(session, row.case_id, "task_completed", actor=user.name, task_id=row.id,
                   name=row.name, form=row.form_key, changes=changes)
    cases.save_case(session, loaded)
    return cases.summary(session, loaded.row)
