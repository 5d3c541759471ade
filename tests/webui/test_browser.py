"""The real app in Debian's Chromium (Playwright): sign-in, sign-out, CSRF, the sign-in
limit, errors and a task form filled by its Japanese labels."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.webui.conftest import PASSWORD, ROOT

pytestmark = pytest.mark.browser


def sign_in(page, name, password=PASSWORD):
    """Submit the sign-in form and wait for its answer (a page or an error)."""
    page.goto("/login")
    page.get_by_label("利用者名").fill(name)
    page.get_by_label("パスワード").fill(password)
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.get_by_role("button", name="ログイン").click()
    if info.value.status == 303:
        expect(page.get_by_test_id("user-name")).to_have_text(name)
    return info.value


def test_sign_in_and_sign_out(page, live_server):
    name = live_server.add_user("tanaka")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    expect(page.locator("#flash")).to_contain_text("ログインしてください")
    sign_in(page, name)
    expect(page.get_by_role("heading", level=1)).to_have_text("担当タスク")
    expect(page.get_by_test_id("user-name")).to_have_text(name)
    expect(page.locator(".site-header")).to_contain_text("福祉まるごと相談室")
    expect(page.locator("#flash")).to_contain_text("ログインしました。")
    expect(page.locator("#inbox-count")).to_be_attached()
    assert page.evaluate("typeof htmx") == "object"  # served from node_modules

    # The sign-in swapped the page without a reload: htmx must send the new session's token.
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.evaluate("""() => htmx.ajax('POST', '/_forms/受理判断',
                           {source: '#main', target: '#main', values: {'判断': '受理'}})""")
    assert info.value.status == 422  # refused by the form (判断日), not by CSRF (400)
    assert info.value.request.headers.get("x-csrftoken")

    page.get_by_role("button", name="ログアウト").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#flash")).to_contain_text("ログアウトしました。")
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))


def test_a_wrong_password_keeps_the_name(page, live_server):
    name = live_server.add_user("sato")
    sign_in(page, name, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("利用者名またはパスワードが正しくありません。")
    expect(page.get_by_label("利用者名")).to_have_value(name)
    expect(page.get_by_label("パスワード")).to_have_value("")


def test_a_form_posted_without_its_token_is_refused_in_japanese(page, live_server):
    name = live_server.add_user("suzuki")
    page.goto("/login")
    # What a forged cross-site post looks like: neither the field nor the htmx header.
    page.evaluate("""() => {
        document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove());
        document.querySelectorAll('[hx-headers]').forEach(e => e.removeAttribute('hx-headers'));
    }""")
    page.get_by_label("利用者名").fill(name)
    page.get_by_label("パスワード").fill(PASSWORD)
    with page.expect_response(lambda r: r.url.endswith("/login") and r.request.method == "POST") as info:
        page.get_by_role("button", name="ログイン").click()
    assert info.value.status == 400
    expect(page.get_by_role("heading", level=1)).to_have_text("送信を受け付けられませんでした")
    expect(page.locator("main")).to_contain_text("ページを読み込み直してから")


def test_sign_in_is_limited_after_failed_attempts(page, live_server):
    name = live_server.add_user("takahashi")
    for _ in range(3):  # the live server allows 3 failures per name and address
        sign_in(page, name, "wrong-password")
        expect(page.get_by_role("alert")).to_contain_text("正しくありません")
    response = sign_in(page, name)  # even the right password, for now
    assert response.status == 429
    expect(page.get_by_role("heading", level=1)).to_have_text("しばらくお待ちください")
    expect(page.locator("main")).to_contain_text("一時的に受け付けを止めています")


def test_an_unknown_page_is_a_japanese_404(page, live_server):
    response = page.goto("/no-such-page")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("ページが見つかりません")
    expect(page.locator("html")).to_have_attribute("lang", "ja")


def test_a_task_form_filled_by_its_labels_keeps_input_on_errors(page, live_server):
    sign_in(page, live_server.add_user("yamada"))
    page.goto("/_forms/相談受付")
    page.get_by_label("氏名").fill("重 花子")
    page.get_by_label("受付者").fill("地域包括支援センター 山田")
    page.get_by_label("受付分野").select_option("介護")
    page.get_by_role("group", name="相談内容").get_by_label("ひきこもり・不登校").check()
    page.get_by_label("相談の概要").fill("母の物忘れが進んでいる。")
    # 受付日 and 対応 are left empty: both are required.
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.get_by_role("button", name="送信", exact=True).click()
    assert info.value.status == 422
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("入力内容を確認してください")
    expect(summary).to_contain_text("受付日: 必須項目です。")
    expect(page.locator("#f-受付日-error")).to_have_text(re.compile("必須項目です。"))
    expect(page.get_by_label("氏名")).to_have_value("重 花子")
    expect(page.get_by_label("相談の概要")).to_have_value("母の物忘れが進んでいる。")
    expect(page.get_by_role("group", name="相談内容").get_by_label("ひきこもり・不登校")).to_be_checked()
    expect(page.get_by_label("受付日")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("受付日").fill("2025-04-07")
    page.get_by_role("group", name="対応").get_by_label("多機関協働").check()
    page.get_by_role("button", name="送信", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("入力内容に誤りはありません")
    expect(page.locator("#result")).to_contain_text('"氏名": "重 花子"')


def test_rows_are_added_and_removed_in_place_with_htmx(page, live_server):
    sign_in(page, live_server.add_user("ito"))
    page.goto("/_forms/アセスメント")
    members = page.locator("#rows-世帯員")
    expect(members.locator(".row")).to_have_count(1)
    members.get_by_label("氏名").fill("重 一郎")
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        members.get_by_role("button", name="行を追加").click()
    assert info.value.request.headers.get("hx-request") == "true"
    expect(members.locator(".row")).to_have_count(2)
    expect(members.locator(".row").nth(0).get_by_label("氏名")).to_have_value("重 一郎")
    expect(members.locator(".row").nth(1).get_by_label("氏名")).to_be_focused()
    members.locator(".row").nth(1).get_by_label("氏名").fill("重 花子")
    members.locator(".row").nth(0).get_by_role("button", name="この行を削除").click()
    expect(members.locator(".row")).to_have_count(1)
    expect(members.locator(".row").nth(0).get_by_label("氏名")).to_have_value("重 花子")
    expect(members.locator(".row").nth(0).locator("legend")).to_have_text("世帯員 1行目")
    expect(members.get_by_role("button", name="行を追加")).to_be_focused()


@pytest.mark.parametrize("browser_context_options", [{"java_script_enabled": False}])
def test_rows_work_without_javascript(page, live_server):
    sign_in(page, live_server.add_user("kato"))
    page.goto("/_forms/中断協議")
    attempts = page.locator("#rows-接触の試み")
    attempts.get_by_label("日付").fill("2025-09-24")
    attempts.get_by_role("button", name="行を追加").click()
    expect(attempts.locator(".row")).to_have_count(2)
    expect(attempts.locator(".row").nth(0).get_by_label("日付")).to_have_value("2025-09-24")
    expect(page.get_by_label("会議日")).to_have_value("")


def test_the_keyboard_alone_signs_in(page, live_server):
    name = live_server.add_user("kobayashi")
    page.goto("/no-such-page")
    page.keyboard.press("Tab")  # the first stop skips the header
    expect(page.get_by_role("link", name="本文へ移動")).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.goto("/login")
    expect(page.get_by_label("利用者名")).to_be_focused()  # autofocus
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    expect(page.get_by_label("パスワード")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("user-name")).to_have_text(name)


def test_enter_in_a_field_submits_the_form_not_a_row_removal(page, live_server):
    sign_in(page, live_server.add_user("yoshida"))
    page.goto("/_forms/中断協議")
    page.get_by_label("会議日").fill("2025-11-07")
    page.locator("#rows-接触の試み").get_by_label("日付").fill("2025-09-24")
    page.get_by_label("見守り継続先").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("判断: 必須項目です。")
    expect(page.locator("#rows-接触の試み").get_by_label("日付")).to_have_value("2025-09-24")


def test_the_modeler_bundles_load_from_node_modules(page, live_server):
    """bpmn-js 17 with the properties panel (UMD) and the camunda moddle opens a pathway."""
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/_test/modeler")
    xml = (ROOT / "workflows" / "jusou.bpmn").read_text()
    result = page.evaluate("""async (xml) => {
        const camunda = await (await fetch(document.getElementById('camunda').dataset.url)).json();
        const panel = BpmnJSPropertiesPanel;
        const modeler = new BpmnJS({
            container: '#canvas', propertiesPanel: {parent: '#panel'}, moddleExtensions: {camunda},
            additionalModules: [panel.BpmnPropertiesPanelModule, panel.BpmnPropertiesProviderModule,
                                panel.CamundaPlatformPropertiesProviderModule]});
        const {warnings} = await modeler.importXML(xml);
        return {warnings: warnings.length, dmn: typeof DmnJS,
                tasks: modeler.get('elementRegistry').filter(e => e.type === 'bpmn:UserTask').length};
    }""", xml)
    assert result["warnings"] == 0 and result["tasks"] > 5 and result["dmn"] == "function"
    expect(page.locator("#panel")).to_contain_text("General")
    assert errors == []
