"""The task pages in Debian's Chromium: a new consultation filed by a caseworker and
accepted by the coordinator, two browsers completing the same task, and a refused form
that keeps what was typed."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

import forms
from tests.webui.conftest import ARTIFACTS
from tests.webui.test_browser import sign_in

pytestmark = pytest.mark.browser

CASEWORKER_AGENCY = ("ブラウザ地域包括支援センター", "地域包括支援センター")


def caseworker(live_server) -> str:
    """A 包括化推進員 at an agency of kind 地域包括支援センター."""
    name, kind = CASEWORKER_AGENCY
    if name not in {a["agency"] for a in live_server.kasane.list_agencies()}:
        live_server.kasane.add_agency(name, kind)
    return live_server.add_user("hokatsu", roles=("包括化推進員",), agency=name)


def case_at_acceptance(live_server) -> tuple[int, str]:
    """A consultation filed through the engine: its case and its open 受理判断 task."""
    case = live_server.kasane.open_case_and_complete_first_task(
        "jusou", caseworker(live_server), forms.example_values("相談受付") | {"氏名": "重 次郎"})
    return case["case_id"], case["tasks"][0]["task_id"]


def second_window(browser, live_server):
    context = browser.new_context(base_url=live_server.url, locale="ja-JP")
    context.set_default_timeout(10_000)
    return context, context.new_page()


def test_a_new_consultation_goes_to_the_coordinator_who_accepts_it(page, live_server, browser):
    sign_in(page, caseworker(live_server))
    page.get_by_role("link", name="新規相談").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("新規相談（相談受付票）")
    page.get_by_label("受付日").fill("2025-04-07")
    page.get_by_label("受付者").fill("地域包括支援センター 山田")
    page.get_by_label("受付分野").select_option("介護")
    page.get_by_label("氏名").fill("重 花子")
    page.get_by_label("ふりがな").fill("かさね はなこ")
    topics = page.get_by_role("group", name="相談内容")
    topics.get_by_label("介護", exact=True).check()
    topics.get_by_label("ひきこもり・不登校").check()
    page.get_by_role("group", name="対応").get_by_label("多機関協働").check()
    page.get_by_role("button", name="受け付ける").click()
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    expect(page.locator("#flash")).to_contain_text("『相談受付』を完了しました。")
    case_id = int(re.search(r"/cases/(\d+)$", page.url).group(1))
    case = live_server.kasane.show_case(case_id)
    assert case["stage"] == "多機関協働" and case["data"]["相談内容"] == ["介護", "ひきこもり・不登校"]
    task_id = next(t["task_id"] for t in case["tasks"] if t["name"] == "受理判断")

    context, coordinator = second_window(browser, live_server)
    try:
        sign_in(coordinator, live_server.add_user("marugoto"))
        # The inbox, newest first (the shared test server holds other tests' cases too).
        coordinator.get_by_label("並び順").select_option("newest")
        coordinator.get_by_role("button", name="絞り込む").click()
        expect(coordinator).to_have_url(re.compile(r"order=newest"))  # swapped in, then pushed
        row = coordinator.locator(f'[id="task-{task_id}"]')
        expect(row).to_contain_text(f"ケース {case_id}")
        expect(row).to_contain_text("重 花子")
        row.get_by_role("link", name="受理判断").click()
        expect(coordinator).to_have_url(re.compile(rf"/tasks/{task_id}$"))
        expect(coordinator.get_by_role("heading", level=1)).to_have_text("受理判断")
        expect(coordinator.locator(".task-header")).to_contain_text("重 花子")
        expect(coordinator.locator(".task-header")).to_contain_text("多機関協働")
        expect(coordinator.locator(".case-data")).to_contain_text("ひきこもり・不登校")
        coordinator.get_by_label("判断日").fill("2025-04-18")
        coordinator.get_by_role("group", name="判断").get_by_label("受理").check()
        coordinator.get_by_label("判断の理由").fill("複数分野の課題があり、役割の整理が必要。")
        ARTIFACTS.mkdir(exist_ok=True)
        coordinator.screenshot(path=str(ARTIFACTS / "task_form_受理判断.png"), full_page=True)
        coordinator.get_by_role("button", name="完了する").click()
        expect(coordinator).to_have_url(re.compile(rf"/cases/{case_id}$"))
        expect(coordinator.locator("#flash")).to_contain_text("『受理判断』を完了しました。")
    finally:
        context.close()
    assert [t["name"] for t in live_server.kasane.list_tasks(case_id=case_id)] == ["同意確認"]


def test_two_browsers_complete_the_same_task_and_the_second_sees_the_conflict(page, live_server, browser):
    case_id, task_id = case_at_acceptance(live_server)
    sign_in(page, live_server.add_user("first"))
    page.goto(f"/tasks/{task_id}")
    context, late = second_window(browser, live_server)
    try:
        sign_in(late, live_server.add_user("second"))
        late.goto(f"/tasks/{task_id}")
        late.get_by_label("判断日").fill("2025-04-19")
        late.get_by_role("group", name="判断").get_by_label("差し戻し").check()
        late.get_by_label("助言（差し戻しの場合）").fill("民生委員と状況を確認してください。")

        page.get_by_label("判断日").fill("2025-04-18")
        page.get_by_role("group", name="判断").get_by_label("受理").check()
        page.get_by_role("button", name="完了する").click()
        expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))

        with late.expect_response(lambda r: r.request.method == "POST") as info:
            late.get_by_role("button", name="完了する").click()
        assert info.value.status == 409
        conflict = late.get_by_role("alert")
        expect(conflict).to_contain_text("ほかの操作と重なりました")
        expect(conflict).to_contain_text("タスク「受理判断」は既に完了しています。")
        expect(late.get_by_label("助言（差し戻しの場合）")).to_have_value("民生委員と状況を確認してください。")
        expect(late.get_by_label("判断日")).to_have_value("2025-04-19")
        expect(late.get_by_role("group", name="判断").get_by_label("差し戻し")).to_be_checked()
        expect(late.get_by_role("link", name="入力内容を破棄して、最新の内容で開き直す")).to_be_visible()
        late.screenshot(path=str(ARTIFACTS / "task_form_conflict.png"), full_page=True)
    finally:
        context.close()
    assert live_server.kasane.show_case(case_id)["data"]["判断"] == "受理"


def test_a_refused_task_form_keeps_the_input_and_a_draft_resumes(page, live_server):
    case_id, task_id = case_at_acceptance(live_server)
    sign_in(page, live_server.add_user("kimura"))
    page.goto(f"/tasks/{task_id}")
    actions = page.locator("#task-form-actions")
    expect(actions.locator(".loading")).to_be_hidden()
    actions.evaluate("e => e.classList.add('htmx-request')")  # what htmx does while sending
    expect(actions.locator(".loading")).to_be_visible()
    actions.evaluate("e => e.classList.remove('htmx-request')")

    page.get_by_role("group", name="判断").get_by_label("差し戻し").check()
    page.get_by_label("助言（差し戻しの場合）").fill("長男の状況を確認してください。")
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.get_by_role("button", name="完了する").click()
    assert info.value.status == 422
    expect(page.get_by_role("alert")).to_contain_text("判断日: 必須項目です。")
    expect(page.locator("#f-判断日-error")).to_contain_text("必須項目です。")
    expect(page.get_by_label("判断日")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("助言（差し戻しの場合）")).to_have_value("長男の状況を確認してください。")
    expect(page.get_by_role("group", name="判断").get_by_label("差し戻し")).to_be_checked()

    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.get_by_role("button", name="下書き保存").click()
    assert info.value.status == 303
    expect(page.locator("#flash")).to_contain_text("下書きを保存しました。")
    expect(page.locator(".notice--draft")).to_contain_text("下書きを読み込みました（保存日時")
    page.reload()  # resumed later: the draft is the user's, kept by the engine
    expect(page.get_by_label("助言（差し戻しの場合）")).to_have_value("長男の状況を確認してください。")
    page.get_by_label("判断日").fill("2025-04-18")
    page.get_by_role("button", name="完了する").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    expect(page.locator("#flash")).to_contain_text("『受理判断』を完了しました。")
    assert live_server.kasane.show_case(case_id)["stage"] == "ネットワーク対応"
