"""Human tasks: inbox queries and completing a task (the body of a unit of work)."""
from __future__ import annotations

from uuid import UUID

from marshmallow import ValidationError
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select, update
from sqlalchemy.orm import Session

import forms
from engine import clock, history, records
from engine.errors import Conflict, InvalidInput, NotFound
from engine.store import HumanTask
from engine.task_index import TASKS, task_dict
from engine.unit_of_work import case_unit, get_case_row, model_error


def list_tasks(session: Session, case_id=None, role: str | None = None) -> list[dict]:
    query = select(HumanTask).where(HumanTask.state == "open")
    if case_id is not None:
        query = query.where(HumanTask.case_id == get_case_row(session, case_id).id)
    if role is not None:
        query = query.where(HumanTask.role == role)
    query = query.order_by(HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at,
                           HumanTask.id)
    now = clock.now()
    return [task_dict(t, with_case=True, now=now) for t in session.scalars(query)]


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


def validate_form(key: str | None, data) -> dict:
    """Form data checked against the task's form; one message per field, nothing stored."""
    if key is None:
        return check_flat_object(data or {})
    schema = forms.get_form(key)
    if schema is None:
        raise InvalidInput(f"フォーム '{key}' が見つかりません。")
    if not isinstance(data, dict):
        raise InvalidInput("データは JSON オブジェクトで指定してください。")
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise InvalidInput("入力内容に誤りがあります。", flatten_messages(exc.messages)) from exc


def flatten_messages(messages, prefix="") -> dict[str, str]:
    flat: dict[str, str] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, (dict)):
                flat.update(flatten_messages(value, name))
            else:
                flat[name] = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    else:
        flat[prefix or "_schema"] = " ".join(map(str, messages))
    return flat


def check_validation_rule(pathway, task, values: dict) -> None:
    """A user task may name a DMN decision (property ``validation``) that refuses data.

    The decision sees the data objects in scope, the task data and the submitted form. A
    matched rule whose output ``エラー`` is not empty refuses the completion with it.
    """
    ref = (task.task_spec.extensions or {}).get("validation")
    if not ref:
        return
    saved = task.data
    data_objects = {}
    wf = task.workflow
    while wf is not None:  # data objects of enclosing processes, innermost winning
        data_objects = {**wf.data_objects, **data_objects}
        wf = wf.parent_workflow
    task.data = {**data_objects, **saved, **values}
    try:
        result = pathway.decisions[ref].result(task)
    except SpiffWorkflowException as exc:
        raise model_error(exc) from exc
    finally:
        task.data = saved
    messages = result.get("エラー")
    if isinstance(messages, list):
        messages = " ".join(m for m in messages if m)
    if messages:
        raise InvalidInput(str(messages))


def get_open_task(session: Session, task_id: str):
    row = session.connection().execute(select(TASKS).where(TASKS.c.id == str(task_id))).first()
    if row is None:
        raise NotFound(f"タスク '{task_id}' が見つかりません。")
    if row.state != "open":
        done = "完了" if row.state == "completed" else "取り消し"
        raise Conflict(f"タスク「{row.name}」は既に{done}されています。")
    return row


def complete_task(session: Session, row, user, values: dict):
    """Complete an open task (``row`` from get_open_task) with already validated values."""
    user_name = user.name
    if row.claimed_by and row.claimed_by != user_name:
        raise Conflict(f"タスク「{row.name}」は {row.claimed_by} が担当しています。")
    with case_unit(session, row.case_id) as loaded:
        task = loaded.workflow.get_task_from_id(UUID(row.id))
        if task is None or not task.has_state(TaskState.READY):
            raise Conflict(f"タスク「{row.name}」は完了できる状態ではありません。")
        check_validation_rule(loaded.pathway, task, values)
        record_id = records.keep(session, row.case_id, "task", row.form_key, row.name, user,
                                 values, task_id=row.id, element=row.spec_id)
        before = dict(task.data)
        task.data.update(values)
        try:
            task.run()
        except SpiffWorkflowException as exc:
            raise model_error(exc, row.case_id) from exc
        session.connection().execute(update(TASKS).where(TASKS.c.id == row.id).values(
            state="completed", closed_at=clock.now(), closed_by=user_name))
        changes = {k: v for k, v in values.items() if k not in before or before[k] != v}
        history.append(session, row.case_id, "task_completed", actor=user_name, task_id=row.id,
                       name=row.name, form=row.form_key, record_id=record_id, changes=changes)
    return loaded.row
