"""Case steps: users, deployment, intake, case events, and the case's stage and status."""
from __future__ import annotations

import pytest
from pytest_bdd import given, parsers, then, when

import forms
from engine.errors import KasaneError

from tests.steps.context import ROOT, ScenarioContext, engine_failure
from tests.steps.tables import form_data
from tests.steps.tasks import complete, describe_tasks

PATHWAY = "jusou"
INTAKE_TASK = "相談受付"
WORKFLOWS = ROOT / "workflows"


# A role and a name in quotes: the agency step ("機関" の "役割" の…) is another step.
@given(parsers.re(r'"(?P<role>[^"]+)" の利用者 "(?P<name>[^"]+)" がいる'))
def user_exists(scenario_context: ScenarioContext, role: str, name: str) -> None:
    try:
        scenario_context.kasane.add_user(name, [role], agency=scenario_context.agency_for_role(role))
    except KasaneError as exc:
        engine_failure(exc, f"利用者「{name}」の登録")
    scenario_context.users[name] = name


@given(parsers.parse('パスウェイ "{pathway}" がデプロイされている'))
def pathway_deployed(scenario_context: ScenarioContext, pathway: str) -> None:
    try:
        results = scenario_context.kasane.deploy([str(WORKFLOWS)])
    except KasaneError as exc:
        engine_failure(exc, f"{WORKFLOWS} のデプロイ")
    deployed = [r["pathway"] for r in results]
    if pathway not in deployed:
        pytest.fail(f"パスウェイ「{pathway}」は {WORKFLOWS} にありません。"
                    f"デプロイされたパスウェイ: {', '.join(deployed) or '（なし）'}", pytrace=False)


def open_case(ctx: ScenarioContext, role: str, datatable, actor: str | None = None) -> None:
    """Open a case as the user a role stands for (or ``actor``) and complete its intake."""
    actor = actor or ctx.user_for(role)
    try:
        opened = ctx.kasane.open_case(PATHWAY, actor)
    except KasaneError as exc:
        engine_failure(exc, f"パスウェイ「{PATHWAY}」のケースの開始")
    ctx.case_id = opened["case_id"]
    ctx.cases.append(opened["case_id"])
    complete(ctx, role, INTAKE_TASK, datatable, actor=actor)


@given(parsers.parse('"{role}" が相談を受け付ける:'))
@when(parsers.parse('"{role}" が相談を受け付ける:'))
def intake(scenario_context: ScenarioContext, role: str, datatable) -> None:
    open_case(scenario_context, role, datatable)


def record_event(ctx: ScenarioContext, role: str, event: str, datatable=None,
                 actor: str | None = None) -> None:
    case_id = ctx.current_case()
    data = form_data(event if forms.get_form(event) else None, datatable)
    actor = actor or ctx.user_for(role)
    try:
        ctx.kasane.send_event(case_id, event, actor, data)
    except KasaneError as exc:
        engine_failure(exc, f"「{role}」（{actor}）によるイベント「{event}」の記録")


@given(parsers.parse('"{role}" がケースに "{event}" を記録する'))
@when(parsers.parse('"{role}" がケースに "{event}" を記録する'))
def event_recorded(scenario_context: ScenarioContext, role: str, event: str) -> None:
    record_event(scenario_context, role, event)


@given(parsers.parse('"{role}" がケースに "{event}" を次の内容で記録する:'))
@when(parsers.parse('"{role}" がケースに "{event}" を次の内容で記録する:'))
def event_recorded_with(scenario_context: ScenarioContext, role: str, event: str, datatable) -> None:
    record_event(scenario_context, role, event, datatable)


def case_summary(ctx: ScenarioContext) -> dict:
    try:
        return ctx.kasane.show_case(ctx.current_case())
    except KasaneError as exc:
        engine_failure(exc, "ケースの表示")


def describe_case(summary: dict) -> str:
    timers = "、".join(f"{t['name']} {t['due']}" for t in summary["timers"]) or "（なし）"
    return (f"段階: {summary['stage']}、状態: {summary['status']}、"
            f"未完了のタスク: {describe_tasks(summary['tasks'])}、タイマー: {timers}")


@then(parsers.parse('ケースの段階は "{stage}" である'))
def stage_is(scenario_context: ScenarioContext, stage: str) -> None:
    summary = case_summary(scenario_context)
    if summary["stage"] != stage:
        pytest.fail(f"ケースの段階は「{summary['stage']}」です（期待: 「{stage}」）。"
                    f"{describe_case(summary)}", pytrace=False)


@then(parsers.parse('ケースの状態は "{status}" である'))
def status_is(scenario_context: ScenarioContext, status: str) -> None:
    summary = case_summary(scenario_context)
    if summary["status"] != status:
        pytest.fail(f"ケースの状態は「{summary['status']}」です（期待: 「{status}」）。"
                    f"{describe_case(summary)}", pytrace=False)
