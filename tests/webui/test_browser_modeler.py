"""The manager's modeler in Debian's Chromium: edit a pathway in bpmn-js and dmn-js, lint,
deploy a new version, move a running case to it and back, a refusal shown in the diagram,
the outside models, and a user without 管理者 kept out.

The live server is shared by the tests of one worker, so each test deploys its own copy of
the pathways (the process ids with a suffix): new versions and cases of it disturb no one.
"""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from engine.store import Case
from tests.conftest import MODELS
from tests.webui.conftest import ROOT
from tests.webui.test_browser import sign_in

pytestmark = pytest.mark.browser

PROCESSES = ("jusou", "outreach", "sanka_shien")


def deploy_copy(live_server) -> str:
    """workflows/ under process ids of its own; returns the copy of jusou's id."""
    suffix = secrets.token_hex(3)
    files = {}
    for path in sorted((ROOT / "workflows").iterdir()):
        text = path.read_text(encoding="utf-8")
        for process in PROCESSES:
            text = text.replace(f'"{process}"', f'"{process}_{suffix}"')
        files[path.name] = text
    live_server.kasane.deploy_files(files)
    return f"jusou_{suffix}"


def open_editor(page, url):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    expect(page.locator(".model-status")).to_contain_text("を開きました", timeout=30_000)
    return errors


def select_in_diagram(page, element_id, name):
    """Find an element as a manager would: the diagram's search (Ctrl+F), by id or name."""
    page.locator(".model-canvas:not([hidden])").click(position={"x": 400, "y": 300})
    page.keyboard.press("Control+f")
    page.keyboard.type(element_id)
    page.locator(".djs-search-result", has_text=name).first.click()
    expect(page.locator(".bio-properties-panel-header-label")).to_have_text(name)


def open_group(page, title):
    header = page.locator(".bio-properties-panel-group-header", has_text=title).first
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def deployed_files(live_server, pathway, version):
    return live_server.kasane.pathway_files(pathway, version)["files"]


def test_a_manager_changes_a_pathway_deploys_v2_and_moves_a_case_to_it_and_back(page, live_server):
    pathway = deploy_copy(live_server)
    worker = live_server.add_user("yamada", roles=("包括化推進員",), agency="デモ市")
    old_case = live_server.kasane.open_case(pathway, worker)["case_id"]
    sign_in(page, live_server.add_user("kato", roles=("管理者",), agency="デモ市"))

    page.get_by_role("link", name="パスウェイ管理", exact=True).click()
    section = page.locator("section.pathway", has_text=f"（{pathway}）")
    expect(section.get_by_role("row", name=re.compile("版 1"))).to_contain_text("1 件")
    errors = open_editor(page, f"/pathways/{pathway}/edit")
    expect(page.get_by_role("heading", level=1)).to_contain_text("版 1")

    # The help tells a newcomer where the monitoring interval lives.
    page.get_by_text("使い方と約束ごと").click()
    expect(page.locator("#modeler-help")).to_contain_text("既定モニタリング月数")

    # Rename a task in the properties panel.
    select_in_diagram(page, "acceptance", "受理判断")
    open_group(page, "基本")
    name = page.locator('[data-group-id="group-general"]').get_by_label("名前", exact=True)
    name.fill("受理判断（WG確認）")
    expect(page.locator('[data-element-id="acceptance"] .djs-label')).to_contain_text("受理判断（WG確認）")

    # The T-monitor default in settings.dmn, in the decision table.
    page.get_by_role("tab", name="settings.dmn").click()
    table = page.locator(".model-canvas:not([hidden])")
    expect(table).to_contain_text("モニタリング期日の既定（プラン合意から、月）")  # as the help names it
    cell = page.locator('[data-element-id="OE_default_intervals_0_0"]')
    cell.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("6")

    page.get_by_role("button", name="検査").click()
    expect(page.locator("#model-results-body")).to_contain_text("問題はありません", timeout=30_000)
    page.get_by_role("button", name="デプロイ").click()
    expect(page).to_have_url(re.compile(r"/pathways$"), timeout=30_000)
    expect(page.locator("#flash")).to_contain_text(f"{pathway} 版 2")
    section = page.locator("section.pathway", has_text=f"（{pathway}）")
    expect(section.get_by_role("row", name=re.compile("版 2"))).to_contain_text(re.compile(r"kato"))
    assert errors == []

    files = deployed_files(live_server, pathway, 2)
    assert 'name="受理判断（WG確認）"' in files["jusou.bpmn"]
    assert re.search(r'OE_default_intervals_0_0">\s*<text>6</text>', files["settings.dmn"])

    # A new case runs on v2 with the new default; the old case stays on v1.
    new_case = live_server.kasane.open_case(pathway, worker)
    assert new_case["version"] == 2
    with live_server.kasane.transaction() as session:
        assert '"既定モニタリング月数": 6' in session.get(Case, new_case["case_id"]).state
        assert '"既定モニタリング月数": 3' in session.get(Case, old_case).state
    assert live_server.kasane.show_case(old_case, worker)["version"] == 1
    page.reload()
    section = page.locator("section.pathway", has_text=f"（{pathway}）")
    expect(section.get_by_role("row", name=re.compile("版 1"))).to_contain_text("1 件")
    expect(section.get_by_role("row", name=re.compile("版 2"))).to_contain_text("1 件")

    # What changed, as a page.
    section.get_by_role("link", name=re.compile(r"前の版との違い\s*（版 2）")).click()
    expect(page.locator("main")).to_contain_text("モニタリング期日の既定（プラン合意から、月）（規則 1）")
    expect(page.locator("main")).to_contain_text("受理判断（WG確認）")

    # Move the old case after its preview, then revert the move.
    page.goto("/pathways")
    section = page.locator("section.pathway", has_text=f"（{pathway}）")
    section.get_by_role("row", name=re.compile("版 1")).get_by_role("link", name=re.compile("1 件")).click()
    page.get_by_role("link", name=re.compile(rf"版の移行を確認\s*（ケース {old_case}）")).click()
    expect(page.get_by_test_id("migration-verdict")).to_contain_text("このケースは移せます")
    expect(page.locator(".migration-preview")).to_contain_text("受理判断（WG確認）")
    page.get_by_role("button", name="版 2 に移す").click()
    expect(page.locator("#flash")).to_contain_text(f"ケース {old_case} を版 1 から版 2 に移しました")
    expect(page.get_by_test_id("current-version")).to_have_text("版 2")
    assert live_server.kasane.show_case(old_case, worker)["version"] == 2
    page.get_by_role("button", name=re.compile("この移行を取り消す")).click()
    expect(page.locator("#flash")).to_contain_text(f"ケース {old_case} を版 1 に戻しました")
    expect(page.get_by_test_id("current-version")).to_have_text("版 1")
    expect(page.locator(".migration-list")).to_contain_text("取り消し済み")
    assert live_server.kasane.show_case(old_case, worker)["version"] == 1


def test_an_unsafe_condition_is_refused_at_deploy_with_the_element_highlighted(page, live_server):
    pathway = deploy_copy(live_server)
    sign_in(page, live_server.add_user("kato", roles=("管理者",), agency="デモ市"))
    errors = open_editor(page, f"/pathways/{pathway}/edit")

    select_in_diagram(page, "f_recheck_yes", "あり")
    open_group(page, "条件")
    condition = page.locator("#properties-panel").get_by_label("条件式")
    expect(condition).to_have_value('同意 == "あり"')
    condition.fill('__import__("os").system("id")')
    page.locator(".model-canvas:not([hidden])").click(position={"x": 5, "y": 5})  # nothing selected

    page.get_by_role("button", name="デプロイ").click()
    results = page.locator("#model-results-body")
    expect(results).to_contain_text("デプロイできませんでした: 問題が 1 件あります", timeout=30_000)
    expect(results).to_contain_text("使用できない式です")
    flow = page.locator('g.djs-element[data-element-id="f_recheck_yes"]')
    expect(flow).to_have_class(re.compile(r"\bkasane-problem\b"))
    expect(flow).to_have_class(re.compile(r"\bselected\b"))
    expect(page.locator(".bio-properties-panel-header-label")).to_have_text("あり")
    # The listed element is a button that shows it again.
    page.locator(".model-canvas:not([hidden])").click(position={"x": 5, "y": 5})
    expect(flow).not_to_have_class(re.compile(r"\bselected\b"))
    results.get_by_role("button", name="図で示す: f_recheck_yes").click()
    expect(flow).to_have_class(re.compile(r"\bselected\b"))
    assert live_server.kasane.pathway_files(pathway)["version"] == 1  # nothing deployed
    assert errors == []


def test_the_form_key_and_the_lane_are_chosen_from_lists(page, live_server):
    pathway = deploy_copy(live_server)
    sign_in(page, live_server.add_user("kato", roles=("管理者",), agency="デモ市"))
    errors = open_editor(page, f"/pathways/{pathway}/edit")
    source = page.locator('textarea[name="file:jusou.bpmn"]')

    select_in_diagram(page, "acceptance", "受理判断")
    form = page.get_by_label("フォーム", exact=True)
    expect(form).to_have_value("受理判断")
    form.select_option("同意確認")
    open_group(page, "フォーム")
    expect(page.locator("#properties-panel").get_by_label("フォームキー")).to_have_value("同意確認")
    expect(source).to_have_value(re.compile(r'id="acceptance" name="受理判断" camunda:formKey="同意確認"'))

    select_in_diagram(page, "Lane_jusou_3", "アウトリーチ支援員")
    role = page.get_by_label("役割（レーン名）")
    expect(role).to_have_value("アウトリーチ支援員")
    assert "管理者" in role.locator("option").all_inner_texts()
    role.select_option("参加支援コーディネーター")
    expect(page.locator(".bio-properties-panel-header-label")).to_have_text("参加支援コーディネーター")
    expect(source).to_have_value(re.compile(r'id="Lane_jusou_3" name="参加支援コーディネーター"'))
    assert errors == []

    # Unsaved edits: leaving through the header asks first, and staying keeps them.
    page.once("dialog", lambda dialog: dialog.dismiss())
    with page.expect_event("dialog") as asked:
        page.get_by_role("link", name="担当タスク").click()
    assert asked.value.type == "beforeunload"
    expect(page.get_by_role("heading", level=1)).to_contain_text("パスウェイの編集")
    expect(source).to_have_value(re.compile(r'name="参加支援コーディネーター"'))


@pytest.mark.parametrize("browser_context_options", [{"java_script_enabled": False}])
def test_the_editor_works_without_javascript(page, live_server):
    pathway = deploy_copy(live_server)
    sign_in(page, live_server.add_user("kato", roles=("管理者",), agency="デモ市"))
    page.goto(f"/pathways/{pathway}/edit")
    settings = page.get_by_label("settings.dmn")
    settings.fill(settings.input_value().replace('<outputEntry id="OE_default_intervals_0_0"><text>3</text>',
                                                '<outputEntry id="OE_default_intervals_0_0"><text>4</text>'))
    page.get_by_role("button", name="検査").click()
    expect(page.locator("#model-results-body")).to_contain_text("問題はありません")
    expect(page.get_by_label("settings.dmn")).to_have_value(re.compile(r"OE_default_intervals_0_0\"><text>4<"))
    page.get_by_role("button", name="デプロイ").click()
    expect(page).to_have_url(re.compile(r"/pathways$"))
    expect(page.locator("#flash")).to_contain_text(f"{pathway} 版 2")
    assert re.search(r'OE_default_intervals_0_0"><text>4<', deployed_files(live_server, pathway, 2)["settings.dmn"])


def test_a_user_without_the_manager_role_cannot_reach_the_modeler_or_deploy(page, live_server):
    pathway = deploy_copy(live_server)
    sign_in(page, live_server.add_user("tanaka"))
    expect(page.locator(".site-header")).not_to_contain_text("パスウェイ")
    response = page.goto(f"/pathways/{pathway}/edit")
    assert response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("この操作は許可されていません")
    expect(page.locator("main")).not_to_contain_text("jusou.bpmn")
    assert page.goto("/pathways").status == 403
    page.goto("/")
    status = page.evaluate("""async (pathway) => {
        const token = JSON.parse(document.querySelector('[hx-headers]').getAttribute('hx-headers'))['X-CSRFToken'];
        const response = await fetch('/pathways/deploy', {method: 'POST', headers: {
            'Content-Type': 'application/json', 'X-CSRFToken': token},
            body: JSON.stringify({files: {'x.bpmn': '<definitions/>'}})});
        return [response.status, (await response.json()).error];
    }""", pathway)
    assert status[0] == 403 and "管理者" in status[1]
    versions = {p["pathway"]: p["versions"] for p in live_server.kasane.list_pathways()}
    assert [v["version"] for v in versions[pathway]] == [1]


def test_every_outside_model_opens_in_the_modeler_and_lints_to_a_result(page, live_server):
    sign_in(page, live_server.add_user("kato", roles=("管理者",), agency="デモ市"))
    errors, deployed = [], 0
    page.on("pageerror", lambda error: errors.append(str(error)))
    for path in sorted((MODELS / "miwg").glob("*.bpmn")):
        page.goto("/pathways/new")
        page.get_by_label(re.compile("ファイルを開く")).set_input_files(str(path))
        expect(page.get_by_role("tab", name=path.name)).to_be_visible()
        expect(page.locator(".model-status")).to_contain_text(f"{path.name} を開きました", timeout=30_000)
        page.get_by_role("button", name="検査").click()
        expect(page.locator("#model-results-body .notice")).to_contain_text("検査の結果", timeout=30_000)
        shown = page.locator(".model-issue__show")
        if shown.count():
            shown.first.click()
            expect(page.locator(".model-status")).to_contain_text("を選びました")
        elif "問題はありません" in page.locator("#model-results-body").inner_text():
            # An executable one deploys (the engine tests run a case of it).
            page.get_by_role("button", name="デプロイ").click()
            expect(page).to_have_url(re.compile(r"/pathways$"), timeout=30_000)
            expect(page.locator("#flash")).to_contain_text(re.compile("デプロイしました|新しい版は作られませんでした"))
            deployed += 1
        assert errors == [], path.name
    assert deployed == 1  # C.9.1
