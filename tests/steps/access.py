"""Steps by user (利用者) rather than by role: agencies, who may see the case and its
members, 支援会議 materials, and the case's access log (features/README.md, issue 7 §9).

They call the engine API as that user, so they go through the one access policy and
leave audit rows like any other caller; a read step is itself a read.
"""
from __future__ import annotations

import json

import pytest
from pytest_bdd import given, parsers, then, when

from engine.errors import Forbidden, KasaneError, NotFound

from tests.steps.cases import open_case, record_event
from tests.steps.context import ScenarioContext, engine_failure
from tests.steps.tasks import complete

QUOTED = r'"(?P<{}>[^"]+)"'


def _re(template: str, *names: str):
    return parsers.re(template.format(*(QUOTED.format(n) for n in names)))


@given(_re('{} の {} の利用者 {} がいる', "agency", "role", "name"))
def agency_user_exists(scenario_context: ScenarioContext, agency: str, role: str, name: str) -> None:
    ctx = scenario_context
    try:
        ctx.kasane.add_user(name, [role], agency=ctx.ensure_agency(agency))
    except KasaneError as exc:
        engine_failure(exc, f"利用者「{name}」（{agency}、{role}）の登録")
    ctx.users[name] = name


@given(_re('利用者 {} が相談を受け付ける:', "name"))
@when(_re('利用者 {} が相談を受け付ける:', "name"))
def user_takes_intake(scenario_context: ScenarioContext, name: str, datatable) -> None:
    open_case(scenario_context, name, datatable, actor=scenario_context.user_named(name))


@given(_re('利用者 {} が {} を完了する', "name", "task"))
@when(_re('利用者 {} が {} を完了する', "name", "task"))
def user_completes(scenario_context: ScenarioContext, name: str, task: str) -> None:
    complete(scenario_context, name, task, actor=scenario_context.user_named(name))


@given(_re('利用者 {} が {} を次の内容で完了する:', "name", "task"))
@when(_re('利用者 {} が {} を次の内容で完了する:', "name", "task"))
def user_completes_with(scenario_context: ScenarioContext, name: str, task: str, datatable) -> None:
    complete(scenario_context, name, task, datatable, actor=scenario_context.user_named(name))


@given(_re('利用者 {} がケースに {} を記録する', "name", "event"))
@when(_re('利用者 {} がケースに {} を記録する', "name", "event"))
def user_records_event(scenario_context: ScenarioContext, name: str, event: str) -> None:
    record_event(scenario_context, name, event, actor=scenario_context.user_named(name))


@given(_re('利用者 {} がケースに {} を次の内容で記録する:', "name", "event"))
@when(_re('利用者 {} がケースに {} を次の内容で記録する:', "name", "event"))
def user_records_event_with(scenario_context: ScenarioContext, name: str, event: str, datatable) -> None:
    record_event(scenario_context, name, event, datatable, actor=scenario_context.user_named(name))


def case_as(ctx: ScenarioContext, name: str) -> dict | None:
    """The current case as the user may see it, or None if they may not see it at all (the
    refusal must carry no member's name)."""
    try:
        return ctx.kasane.show_case(ctx.current_case(), ctx.user_named(name))
    except (NotFound, Forbidden) as exc:
        told = json.dumps(exc.to_dict(), ensure_ascii=False)
        leaked = [m["氏名"] for m in ctx.kasane.show_case(ctx.current_case())["household"]
                  if m["氏名"] and m["氏名"] in told]
        if leaked:
            pytest.fail(f"利用者「{name}」への拒否のメッセージに世帯員の氏名があります: {told}", pytrace=False)
        return None


@then(_re('利用者 {} はケースを見られる', "name"))
def user_sees_case(scenario_context: ScenarioContext, name: str) -> None:
    if case_as(scenario_context, name) is None:
        pytest.fail(f"利用者「{name}」はケース {scenario_context.case_id} を見られません。", pytrace=False)


@then(_re('利用者 {} はケースを見られない', "name"))
def user_does_not_see_case(scenario_context: ScenarioContext, name: str) -> None:
    shown = case_as(scenario_context, name)
    if shown is not None:
        pytest.fail(f"利用者「{name}」がケース {scenario_context.case_id} を見られます"
                    f"（根拠: {shown['access']}）。", pytrace=False)


@then(_re('利用者 {} には世帯員 {} の情報が見える', "name", "member"))
def user_sees_member(scenario_context: ScenarioContext, name: str, member: str) -> None:
    shown = case_as(scenario_context, name)
    if shown is None:
        pytest.fail(f"利用者「{name}」はケース {scenario_context.case_id} を見られません。", pytrace=False)
    members = [m["氏名"] for m in shown["household"]]
    if member not in members:
        pytest.fail(f"利用者「{name}」に世帯員「{member}」が見えません。見える世帯員: "
                    f"{'、'.join(m or '（氏名なし）' for m in members) or '（なし）'}", pytrace=False)


@then(_re('利用者 {} には世帯員 {} の情報が見えない', "name", "member"))
def user_does_not_see_member(scenario_context: ScenarioContext, name: str, member: str) -> None:
    shown = case_as(scenario_context, name)
    if shown is not None and member in json.dumps(shown, ensure_ascii=False):
        pytest.fail(f"利用者「{name}」に世帯員「{member}」の情報が見えます（根拠: {shown['access']}）。",
                    pytrace=False)


@then(_re('ケースの閲覧記録に利用者 {} がある', "name"))
def access_log_has(scenario_context: ScenarioContext, name: str) -> None:
    ctx = scenario_context
    rows = ctx.kasane.audit_log(case_id=ctx.current_case())
    if not any(row["actor"] == name for row in rows):
        actors = "、".join(dict.fromkeys(row["actor"] for row in rows)) or "（なし）"
        pytest.fail(f"ケース {ctx.case_id} の閲覧記録に利用者「{name}」がありません。記録のある利用者: {actors}",
                    pytrace=False)


@then(_re('利用者 {} が見るケースに {} は含まれない', "name", "text"))
def user_case_lacks(scenario_context: ScenarioContext, name: str, text: str) -> None:
    shown = case_as(scenario_context, name)
    if shown is not None and text in json.dumps(shown, ensure_ascii=False):
        pytest.fail(f"利用者「{name}」が見るケースに「{text}」が含まれています（根拠: {shown['access']}）。",
                    pytrace=False)


# --- meetings, named by the task that recorded them ------------------------------------------

def meeting_of(ctx: ScenarioContext, task: str) -> int:
    """The meeting the current case's latest record of that task created or joined."""
    records = ctx.kasane.show_case(ctx.current_case())["records"]
    found = [r["meeting_id"] for r in records if r["name"] == task and r["meeting_id"]]
    if not found:
        pytest.fail(f"ケース {ctx.case_id} に「{task}」で記録された会議がありません。", pytrace=False)
    return found[-1]


@given(_re('利用者 {} が {} の会議の守秘義務を確認する', "name", "task"))
@when(_re('利用者 {} が {} の会議の守秘義務を確認する', "name", "task"))
def user_acknowledges(scenario_context: ScenarioContext, name: str, task: str) -> None:
    ctx = scenario_context
    try:
        ctx.kasane.acknowledge_meeting(meeting_of(ctx, task), ctx.user_named(name))
    except KasaneError as exc:
        engine_failure(exc, f"利用者「{name}」による「{task}」の会議の守秘義務の確認")


def meeting_as(ctx: ScenarioContext, name: str, task: str) -> dict | None:
    try:
        return ctx.kasane.show_meeting(meeting_of(ctx, task), ctx.user_named(name))
    except (NotFound, Forbidden):
        return None


@then(_re('利用者 {} は {} の会議の議事を見られる', "name", "task"))
def user_reads_minutes(scenario_context: ScenarioContext, name: str, task: str) -> None:
    shown = meeting_as(scenario_context, name, task)
    if shown is None or "議事" not in shown:
        pytest.fail(f"利用者「{name}」は「{task}」の会議の議事を見られません。", pytrace=False)


@then(_re('利用者 {} は {} の会議の議事を見られない', "name", "task"))
def user_does_not_read_minutes(scenario_context: ScenarioContext, name: str, task: str) -> None:
    shown = meeting_as(scenario_context, name, task)
    if shown is not None and "議事" in shown:
        pytest.fail(f"利用者「{name}」が「{task}」の会議の議事を見られます。", pytrace=False)


def meeting_members(ctx: ScenarioContext, name: str, task: str) -> list[str]:
    shown = meeting_as(ctx, name, task)
    if shown is None:
        pytest.fail(f"利用者「{name}」は「{task}」の会議を見られません。", pytrace=False)
    return [m["氏名"] for m in shown["members"]]


@then(_re('利用者 {} には {} の会議で世帯員 {} が見える', "name", "task", "member"))
def meeting_shows_member(scenario_context: ScenarioContext, name: str, task: str, member: str) -> None:
    members = meeting_members(scenario_context, name, task)
    if member not in members:
        pytest.fail(f"「{task}」の会議で利用者「{name}」に世帯員「{member}」が見えません。見える世帯員: "
                    f"{'、'.join(members) or '（なし）'}", pytrace=False)


@then(_re('利用者 {} には {} の会議で世帯員 {} が見えない', "name", "task", "member"))
def meeting_hides_member(scenario_context: ScenarioContext, name: str, task: str, member: str) -> None:
    if member in meeting_members(scenario_context, name, task):
        pytest.fail(f"「{task}」の会議で利用者「{name}」に世帯員「{member}」が見えます。", pytrace=False)
