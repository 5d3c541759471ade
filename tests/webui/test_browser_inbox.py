"""The inbox in Debian's Chromium: a coordinator's Japanese tasks, the overdue view and a
claim that swaps only its row (htmx), the header's count staying right."""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

import forms
from engine import clock
from tests.conftest import MODELS
from tests.webui.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def coordinator(live_server):
    """A coordinator at an agency of their own (the live server is shared), with three
    受理判断: one from an intake, one overdue, one due next week."""
    kasane = live_server.kasane
    kasane.deploy([MODELS / "sample.bpmn"])
    agency = f"包括-{secrets.token_hex(3)}"
    kasane.add_agency(agency, "地域包括支援センター")  # a kind no referral reaches
    worker = live_server.add_user("yamada", ["包括化推進員"], agency)
    name = live_server.add_user("tanaka", ["相談支援コーディネーター"], agency)
    case = kasane.open_case("jusou", worker)
    kasane.complete_task(case["tasks"][0]["task_id"], worker,
                         {**forms.example_values("相談受付"), "氏名": "重 花子", "対応": "多機関協働"})
    with clock.fixed_at("2025-04-07"):
        overdue = kasane.open_case("sample", name)["tasks"][0]["task_id"]
    kasane.open_case("sample", name)
    return {"name": name, "overdue": overdue}


def sign_in(page, name):
    page.goto("/login")
    page.get_by_label("利用者名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    page.get_by_role("button", name="ログイン").click()
    expect(page.get_by_test_id("user-name")).to_have_text(name)


def test_a_coordinator_filters_to_overdue_and_claims_a_task_in_place(page, coordinator):
    name = coordinator["name"]
    sign_in(page, name)
    expect(page.get_by_role("heading", level=1)).to_have_text("担当タスク")
    rows = page.locator("table.tasks tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#inbox-count")).to_have_text("3")
    expect(rows.filter(has_text="重 花子").get_by_role("link", name="受理判断")).to_be_visible()
    overdue = page.locator(f"#task-{coordinator['overdue']}")
    expect(overdue).to_contain_text("期限切れ 2025年4月14日")

    page.evaluate("window.stillThisPage = true")  # gone if a whole page loads
    page.get_by_label("期限切れのみ").check()
    with page.expect_response(lambda r: "overdue=1" in r.url) as answer:
        page.get_by_role("button", name="絞り込む").click()
    assert answer.value.request.headers.get("hx-request") == "true"
    expect(page).to_have_url(re.compile(r"overdue=1"))
    expect(rows).to_have_count(1)
    expect(page.get_by_role("link", name="期限切れ", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("heading", level=2)).to_have_text("期限切れのタスク")

    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        overdue.get_by_role("button", name=re.compile("^担当する")).click()
    assert answer.value.status == 200
    expect(overdue.locator(".task-row__claimed")).to_have_text(name)
    expect(overdue.get_by_role("button", name=re.compile("^担当を外す"))).to_be_visible()
    expect(page.locator("#flash")).to_contain_text("タスク「受理判断」を担当しました。")
    expect(page.locator("#inbox-count")).to_have_text("3")  # still my roles' three open tasks
    assert page.evaluate("window.stillThisPage") is True

    page.get_by_role("link", name="自分が担当").click()
    expect(page.get_by_role("heading", level=2)).to_have_text("自分が担当しているタスク")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(name)
    assert page.evaluate("window.stillThisPage") is True
