"""Human tasks: inbox queries and completing a task (the body of a unit of work)."""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timezone
from uuid import UUID

from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from engine import access, clock, drafts, history, meetings, records
from engine.errors import Conflict, InvalidInput, NotFound
from engine.modelcheck import validation_refs
from engine.store import Case, Member
from engine.task_index import TASKS, task_dict
from engine.unit_of_work import case_unit, model_error

MEMBERS = Member.__table__
CASES = Case.__table__


MAX_PAGE = 1000
# Inbox orders: due first (the default), or the newest tasks first. Each has its indexes
# (engine/store.py), so a page reads only the rows it shows.
ORDERS = ("due", "newest")


@dataclass(frozen=True)
class TaskFilter:
    """An inbox query. Without a case, role or ``mine``, a user sees their roles' tasks."""

    case_id: int | None = None
    role: str | None = None
    mine: bool = False
    overdue: bool = False
    stage: str | None = None
    due_before: datetime | None = None
    task_id: str | None = None  # one task, as a list shows it (a row shown again after a claim)
    order: str = "due"
    limit: int = 100
    after: str | None = None  # the cursor of the last task of the previous page


def list_tasks(session: Session, actor, wanted: TaskFilter) -> list[dict]:
    """One page of open tasks, in due order (or newest first), filtered by the access
    policy in SQL."""
    if wanted.order not in ORDERS:
        raise InvalidInput(f"並び順 {wanted.order!r} はありません（{' / '.join(ORDERS)}）。",
                           {"order": "正しくない並び順です。"})
    now = clock.now()
    query = _filtered(select(TASKS, MEMBERS.c.name.label("person")).select_from(TASKS)
                      .outerjoin(MEMBERS, and_(MEMBERS.c.case_id == TASKS.c.case_id,
                                               MEMBERS.c.principal.is_(True))), actor, wanted, now)
    if wanted.after is not None:
        query = query.where(_after(wanted.order, *parse_cursor(wanted.after)))
    if wanted.order == "newest":
        order = (TASKS.c.created_at.desc(), TASKS.c.id.desc())
    else:
        order = (TASKS.c.due_sort, TASKS.c.created_at, TASKS.c.id)
    limit = min(max(int(wanted.limit), 1), MAX_PAGE)
    rows = session.connection().execute(query.order_by(*order).limit(limit))
    return [{**task_dict(row, with_case=True, now=now), "person": row.person,
             "cursor": make_cursor(row)} for row in rows]


def _after(order: str, due: datetime, created: datetime, task_id: str):
    """The keyset condition: the tasks that come after the cursor's task in the order."""
    if order == "newest":
        return or_(TASKS.c.created_at < created,
                   and_(TASKS.c.created_at == created, TASKS.c.id < task_id))
    return or_(TASKS.c.due_sort > due,
               and_(TASKS.c.due_sort == due, TASKS.c.created_at > created),
               and_(TASKS.c.due_sort == due, TASKS.c.created_at == created, TASKS.c.id > task_id))


def count_tasks(session: Session, actor, wanted: TaskFilter, up_to: int | None = None) -> int:
    """How many open tasks the same filter finds (for the header's count), counting no
    further than ``up_to``: a count reads every row it counts."""
    if up_to is None:
        query = _filtered(select(func.count()).select_from(TASKS), actor, wanted, clock.now())
    else:
        found = _filtered(select(TASKS.c.id), actor, wanted, clock.now()).limit(max(int(up_to), 0))
        query = select(func.count()).select_from(found.subquery())
    return session.connection().scalar(query)


def _filtered(query, actor, wanted: TaskFilter, now):
    query = query.join(CASES, CASES.c.id == TASKS.c.case_id).where(
        TASKS.c.state == "open", access.visible_tasks(actor))
    if wanted.case_id is not None:
        query = query.where(TASKS.c.case_id == wanted.case_id)
    elif wanted.task_id is not None:
        query = query.where(TASKS.c.id == str(wanted.task_id))
    elif wanted.role is None and not wanted.mine and not actor.operator:
        query = query.where(TASKS.c.role.in_(sorted(actor.working_roles)))
    if wanted.role is not None:
        query = query.where(TASKS.c.role == wanted.role)
    if wanted.mine:
        query = query.where(TASKS.c.claimed_by == actor.name)
    if wanted.overdue:
        query = query.where(TASKS.c.due_sort < now)
    if wanted.stage is not None:
        query = query.where(TASKS.c.stage == wanted.stage)
    if wanted.due_before is not None:
        query = query.where(TASKS.c.due_sort < wanted.due_before)
    return query


def make_cursor(row) -> str:
    text = "|".join([row.due_sort.astimezone(timezone.utc).isoformat(),
                     row.created_at.astimezone(timezone.utc).isoformat(), row.id])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def parse_cursor(cursor: str) -> tuple[datetime, datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, created, task_id = text.split("|", 2)
        moments = datetime.fromisoformat(due), datetime.fromisoformat(created)
        if any(m.tzinfo is None for m in moments) or len(task_id) > 36:
            raise ValueError(text)
        return moments[0], moments[1], task_id
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput(f"カーソル {cursor!r} が正しくありません。前のページの最後のタスクの"
                           f"cursor を指定してください。", {"after": "正しくないカーソルです。"}) from None


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
        raise model_error(exc) from exc
    finally:
        task.data = saved
    messages = [str(m) for m in messages if m]
    if messages:
        raise InvalidInput(" ".join(messages))


def get_task(session: Session, task_id, with_case: bool = False) -> object:
    """A task's index row, with what working it needs to know beside: who holds its case
    and whether a 支援会議 discussed it (for the access policy), and whether anyone keeps
    a draft of the task. ``with_case``: the case's row comes along, as ``Case`` (loaded
    into the session, where the unit of work about to run the case finds it)."""
    text = str(task_id)
    if len(text) > 36:
        raise NotFound(f"タスク '{task_id}' が見つかりません。")
    statement = select(TASKS, CASES.c.receiving_agency_id, CASES.c.referred_kinds,
                       meetings.on_support_meeting_agenda(CASES.c.id).label("support_meetings"),
                       drafts.kept_for(TASKS.c.id).label("has_drafts"),
                       *([Case] if with_case else [])) \
        .select_from(TASKS).join(CASES, CASES.c.id == TASKS.c.case_id).where(TASKS.c.id == text)
    row = (session if with_case else session.connection()).execute(statement).first()
    if row is None:
        raise NotFound(f"タスク '{task_id}' が見つかりません。")
    return row


def require_open(row) -> None:
    if row.state != "open":
        done = "既に完了しています" if row.state == "completed" else "取り消されています"
        raise Conflict(f"タスク「{row.name}」は{done}。")


def claim(session: Session, row, user_name: str | None) -> None:
    """Claim a task for a user (None releases it); a task claimed by someone else stays theirs."""
    require_open(row)
    if user_name is not None and row.claimed_by not in (None, user_name):
        raise Conflict(f"タスク「{row.name}」は {row.claimed_by} が担当しています。")
    session.connection().execute(update(TASKS).where(TASKS.c.id == row.id, TASKS.c.state == "open")
                                 .values(claimed_by=user_name))


def complete_task(session: Session, row, user, values: dict):
    """Complete an open task (``row`` from get_task) with already validated values."""
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
        if row.has_drafts:
            drafts.discard(session, row.id)
        changes = {k: v for k, v in values.items() if k not in before or before[k] != v}
        history.append(session, row.case_id, "task_completed", actor=user_name, task_id=row.id,
                       name=row.name, form=row.form_key, record_id=record_id, changes=changes)
    return loaded
