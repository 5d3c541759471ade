"""Task steps: complete a task of the current case, check tasks, due dates and refusals."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from pytest_bdd import given, parsers, then, when

from engine import clock
from engine.errors import KasaneError

from tests.steps.context import ScenarioContext, engine_failure
from tests.steps.tables import form_data


def open_tasks(ctx: ScenarioContext) -> list[dict]:
    try:
        return ctx.kasane.list_tasks(case_id=ctx.current_case())
    except KasaneError as exc:
        engine_failure(exc, "タスクの一覧")


def describe_tasks(tasks: list[dict]) -> str:
    if not tasks:
        return "（なし）"
    return "、".join(f"{t['name']}（{t['role'] or '役割なし'}）" for t in tasks)


def find_task(ctx: ScenarioContext, name: str) -> dict:
    """The current case's open task with that name (the earliest due if there are several)."""
    tasks = open_tasks(ctx)
    for task in tasks:
        if task["name"] == name:
            return task
    pytest.fail(f"ケース {ctx.case_id} に未完了のタスク「{name}」がありません。"
                f"未完了のタスク: {describe_tasks(tasks)}", pytrace=False)


def complete(ctx: ScenarioContext, role: str, name: str, datatable=None, actor: str | None = None) -> dict:
    """Complete the current case's task as the user a role stands for (or ``actor``)."""
    task = find_task(ctx, name)
    data = form_data(task["form"], datatable)
    actor = actor or ctx.user_for(role)
    try:
        return ctx.kasane.complete_task(task["task_id"], actor, data)
    except KasaneError as exc:
        engine_failure(exc, f"「{role}」（{actor}）によるタスク「{name}」の完了")


@given(parsers.parse('"{role}" が "{task}" を完了する'))
@when(parsers.parse('"{role}" が "{task}" を完了する'))
def complete_task(scenario_context: ScenarioContext, role: str, task: str) -> None:
    complete(scenario_context, role, task)


@given(parsers.parse('"{role}" が "{task}" を次の内容で完了する:'))
@when(parsers.parse('"{role}" が "{task}" を次の内容で完了する:'))
def complete_task_with(scenario_context: ScenarioContext, role: str, task: str, datatable) -> None:
    complete(scenario_context, role, task, datatable)


@then(parsers.parse('"{role}" のタスクに "{task}" がある'))
def task_is_open(scenario_context: ScenarioContext, role: str, task: str) -> None:
    tasks = open_tasks(scenario_context)
    if not any(t["name"] == task and t["role"] == role for t in tasks):
        pytest.fail(f"「{role}」のタスクに「{task}」がありません。"
                    f"未完了のタスク: {describe_tasks(tasks)}", pytrace=False)


@then(parsers.parse('"{role}" のタスクに "{task}" がない'))
def task_is_not_open(scenario_context: ScenarioContext, role: str, task: str) -> None:
    tasks = open_tasks(scenario_context)
    if any(t["name"] == task and t["role"] == role for t in tasks):
        pytest.fail(f"「{role}」のタスクに「{task}」があります。"
                    f"未完了のタスク: {describe_tasks(tasks)}", pytrace=False)


@then(parsers.parse('"{task}" の期限は "{day}" である'))
def task_due(scenario_context: ScenarioContext, task: str, day: str) -> None:
    try:
        expected = date.fromisoformat(day.strip())
    except ValueError:
        pytest.fail(f"日付 {day!r} は YYYY-MM-DD で書いてください。", pytrace=False)
    found = find_task(scenario_context, task)
    if found["due"] is None:
        pytest.fail(f"タスク「{task}」に期限がありません。", pytrace=False)
    actual = datetime.fromisoformat(found["due"]).astimezone(clock.LOCAL_TZ).date()
    if actual != expected:
        pytest.fail(f"タスク「{task}」の期限は {actual.isoformat()} です"
                    f"（期待: {expected.isoformat()}、期限日時: {found['due']}）。", pytrace=False)


def _error_texts(exc: KasaneError) -> list[str]:
    texts = [exc.message]
    texts.extend(str(message) for message in exc.fields.values())
    texts.extend(str(p.get("message")) for p in getattr(exc, "problems", None) or [])
    return texts


@when(parsers.parse('"{role}" が "{task}" を次の内容で完了しようとすると "{message}" というエラーになる:'))
@then(parsers.parse('"{role}" が "{task}" を次の内容で完了しようとすると "{message}" というエラーになる:'))
def completion_refused(scenario_context: ScenarioContext, role: str, task: str, message: str,
                       datatable) -> None:
    ctx = scenario_context
    found = find_task(ctx, task)
    data = form_data(found["form"], datatable)
    actor = ctx.user_for(role)
    try:
        result = ctx.kasane.complete_task(found["task_id"], actor, data)
    except KasaneError as exc:
        texts = _error_texts(exc)
        if not any(message in text for text in texts):
            fields = "".join(f"\n  {k}: {v}" for k, v in sorted(exc.fields.items()))
            pytest.fail(f"タスク「{task}」の完了は「{message}」ではなく次のエラーになりました: "
                        f"{exc.message}{fields}", pytrace=False)
    else:
        pytest.fail(f"タスク「{task}」の完了がエラーになりませんでした（期待: 「{message}」）。"
                    f"段階: {result['stage']}、状態: {result['status']}、"
                    f"未完了のタスク: {describe_tasks(result['tasks'])}", pytrace=False)
    still_open = {t["task_id"] for t in open_tasks(ctx)}
    assert found["task_id"] in still_open, f"拒否されたタスク「{task}」が未完了のまま残っていません。"
