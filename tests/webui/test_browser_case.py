"""The case page in Debian's Chromium: the live diagram marks where the case is and opens
the current task's form; a worker whose agency has no part in a case sees nothing of it."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.webui import casework
from tests.webui.casework import INTAKE
from tests.webui.test_browser import sign_in

pytestmark = pytest.mark.browser

PERSON = "重 花子"


def test_the_diagram_marks_the_current_task_and_a_click_opens_its_form(page, live_server):
    worker = live_server.add_user("yamada", roles=(INTAKE,), agency="デモ市")
    coordinator = live_server.add_user("tanaka")
    case = casework.referred(live_server.kasane, worker)
    [task] = case["tasks"]
    refused_styles = []  # what the page's CSP would block (bpmn-js needs no inline styles)
    page.on("console", lambda message: refused_styles.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in(page, coordinator)

    # Open a record, then go back to the case through its link: a boosted htmx swap runs
    # the diagram's scripts again in the same document.
    view = live_server.kasane.show_case(case["case_id"], actor=coordinator)
    page.goto(f"/cases/{case['case_id']}/records/{view['records'][0]['record_id']}")
    page.get_by_role("link", name=f"ケース {case['case_id']} に戻る").click()
    expect(page).to_have_url(re.compile(rf"/cases/{case['case_id']}$"))

    diagram = page.locator("#case-diagram")
    expect(diagram).to_be_visible()
    current = diagram.locator('g.djs-element[data-element-id="acceptance"]')
    expect(current).to_have_class(re.compile(r"\bcase-current\b"))
    expect(diagram.locator('g.djs-element[data-element-id="intake"]')).to_have_class(
        re.compile(r"\bcase-done\b"))
    expect(diagram.get_by_role("link", name="対応中: 受理判断")).to_have_attribute(
        "href", f"/tasks/{task['task_id']}")
    assert refused_styles == []

    current.click()
    expect(page).to_have_url(re.compile(rf"/tasks/{task['task_id']}$"))


def test_a_worker_at_an_agency_without_access_who_types_a_case_url_sees_nothing(page, live_server):
    casework.add_agencies(live_server.kasane)
    worker = live_server.add_user("yamada", roles=(INTAKE,), agency="デモ市")
    case = casework.referred(live_server.kasane, worker)
    outsider = live_server.add_user("ueda", roles=(INTAKE,), agency="よその地域包括")
    sign_in(page, outsider)
    for path in (f"/cases/{case['case_id']}", f"/cases/{case['case_id']}/diagram"):
        response = page.goto(path)
        assert response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("ページが見つかりません")
        html = page.content()
        for secret in (PERSON, "かさね", "多機関協働", "受理判断"):
            assert secret not in html
    expect(page.locator("#case-diagram")).to_have_count(0)
