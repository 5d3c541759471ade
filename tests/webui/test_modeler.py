"""The manager's modeler over HTTP: the pathway list, the diff, the editor's lint, draft and
deploy (as form fields, as JSON and for htmx), moving cases between versions, and the
refusals of everyone without 管理者."""
from __future__ import annotations

from io import BytesIO

import pytest
from werkzeug.test import encode_multipart

from engine import clock
from tests.conftest import MODELS
from tests.webui.conftest import add_user_fast
from tests.webui.htmlform import Page, csrf_token
from webui.auth import fingerprint

STEPS = (MODELS / "steps.bpmn").read_text(encoding="utf-8")
RENAMED = STEPS.replace('name="三つ目"', 'name="三つ目（確認）"')
UNSAFE = STEPS.replace('<bpmn:sequenceFlow id="f4" sourceRef="call" targetRef="third"/>',
                       '<bpmn:sequenceFlow id="f4" sourceRef="call" targetRef="third">'
                       '<bpmn:conditionExpression>__import__("os").system("id")</bpmn:conditionExpression>'
                       '</bpmn:sequenceFlow>')
MIWG = sorted((MODELS / "miwg").glob("*.bpmn"))


@pytest.fixture
def kasane(app):
    kasane = app.extensions["kasane"]
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "steps.bpmn"])
    kasane.add_user("ito", ["担当"], "デモ市")
    return kasane


def sign_in_as(app, client, password_hash, name, roles):
    add_user_fast(app.extensions["kasane"], name, roles, "デモ市", password_hash)
    with client.session_transaction() as session:
        session["_user_id"] = f"{name}|{fingerprint(password_hash)}"
        session["_fresh"] = True
    return client


@pytest.fixture
def manager(app, client, kasane, _password_hash):
    return sign_in_as(app, client, _password_hash, "kato", ["管理者"])


@pytest.fixture
def worker(app, client, kasane, _password_hash):
    return sign_in_as(app, client, _password_hash, "yamada", ["包括化推進員"])


def token(client) -> str:
    return csrf_token(client.get("/pathways/steps/edit").get_data(as_text=True))


def text(response) -> str:
    return response.get_data(as_text=True)


def form_post(client, url, files, headers=None, **fields):
    data = {"csrf_token": token(client), **fields,
            **{f"file:{name}": content for name, content in files.items()}}
    return client.post(url, data=data, content_type="multipart/form-data", headers=headers or {})


def json_post(client, url, body):
    return client.post(url, json=body, headers={"X-CSRFToken": token(client)})


# --- who may ------------------------------------------------------------------------------


def test_a_user_without_the_manager_role_is_refused_everywhere(worker, kasane):
    home = text(worker.get("/"))
    assert "パスウェイ" not in home  # no link to pages the engine would refuse
    for url in ("/pathways", "/pathways/steps/edit", "/pathways/steps/diff", "/pathways/new",
                "/pathways/steps/versions/1", "/pathways/steps/cases/1"):
        response = worker.get(url)
        assert response.status_code == 403, url
        assert "この操作は許可されていません" in text(response)
        assert "steps.bpmn" not in text(response) and "三つ目" not in text(response)
    page = csrf_token(text(worker.get("/")))
    for url in ("/pathways/lint", "/pathways/deploy", "/pathways/steps/draft"):
        response = worker.post(url, json={"files": {"steps.bpmn": RENAMED}}, headers={"X-CSRFToken": page})
        assert response.status_code == 403, url
        assert "管理者" in response.get_json()["error"]
        response = worker.post(url, data={"csrf_token": page, "file:steps.bpmn": RENAMED},
                               content_type="multipart/form-data")
        assert response.status_code == 403 and "管理者" in text(response)
    assert [v["version"] for v in kasane.list_pathways()[0]["versions"]] == [1]


def test_signing_in_is_needed(client, kasane):
    response = client.get("/pathways")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_manager_sees_the_link_and_the_versions_with_their_running_cases(manager, kasane):
    assert 'href="/pathways"' in text(manager.get("/"))
    kasane.open_case("steps", "ito")
    kasane.deploy_files({"steps.bpmn": RENAMED}, actor="kato")
    page = text(manager.get("/pathways"))
    assert "三段階" in page and "版 1" in page and "版 2" in page and "kato" in page
    steps = page[page.index("（steps）"):]
    steps = steps[:steps.index("</section>")]
    row = steps[steps.index("<th scope=\"row\">版 1"):]
    assert "1 件" in row[:row.index("</tr>")]
    assert "2025年4月1日 09:00" in page
    assert manager.get("/pathways").headers["Content-Security-Policy"].count("unsafe-inline") == 0


def test_the_diff_between_two_versions_names_each_change(manager, kasane):
    kasane.deploy_files({"steps.bpmn": RENAMED}, actor="kato")
    page = text(manager.get("/pathways/steps/diff?from=1&to=2"))
    assert "版 1 → 版 2 の違い" in page
    assert "三つ目（確認）" in page and "ユーザータスク" in page and "名前" in page
    assert "<del>三つ目</del>" in page and "<ins>三つ目（確認）</ins>" in page
    assert manager.get("/pathways/steps/diff?from=1&to=9").status_code == 404
    assert manager.get("/pathways/nothing/diff").status_code == 404


def test_the_diff_names_a_decision_table_cell_by_its_column_and_rule(manager, kasane):
    settings = (MODELS.parent.parent / "workflows" / "settings.dmn").read_text(encoding="utf-8")
    with_settings = STEPS.replace(
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="first"/>',
        '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="settings"/>'
        '<bpmn:businessRuleTask id="settings" camunda:decisionRef="default_intervals"/>'
        '<bpmn:sequenceFlow id="f1b" sourceRef="settings" targetRef="first"/>')
    changed = settings.replace('<outputEntry id="OE_default_intervals_0_0"><text>3</text>',
                               '<outputEntry id="OE_default_intervals_0_0"><text>6</text>')
    kasane.deploy_files({"steps.bpmn": with_settings, "settings.dmn": settings}, actor="kato")
    kasane.deploy_files({"steps.bpmn": with_settings, "settings.dmn": changed}, actor="kato")
    page = text(manager.get("/pathways/steps/diff"))
    assert "版 2 → 版 3 の違い" in page
    assert "モニタリング期日の既定（プラン合意から、月）（規則 1）" in page and "結果のセル" in page
    assert "<del>3</del>" in page and "<ins>6</ins>" in page


# --- the editor ----------------------------------------------------------------------------


def test_the_editor_opens_a_version_with_its_files_vocabulary_and_help(manager, kasane):
    kasane.deploy_files({"steps.bpmn": RENAMED}, actor="kato")
    response = manager.get("/pathways/steps/edit")
    page = Page(text(response))
    [textarea] = [c for c in page.controls if c.tag == "textarea"]
    assert textarea.name == "file:steps.bpmn" and "三つ目（確認）" in textarea.text
    assert page.labels[textarea.attrs["id"]] == "steps.bpmn"
    assert page.form_values(None)["based_on"] == "2"
    html = text(response)
    assert "既定モニタリング月数" in html and "internalVariables" in html and "レーン＝役割" in html
    assert '"相談受付"' in html and '"担当"' in html  # the form keys and roles to choose from
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy and "script-src" not in policy
    assert "default-src 'self'" in policy
    older = Page(text(manager.get("/pathways/steps/edit?version=1")))
    assert 'name="三つ目"' in [c for c in older.controls if c.tag == "textarea"][0].text
    assert older.form_values(None)["based_on"] == "1"
    assert manager.get("/pathways/steps/edit?version=7").status_code == 404


def test_lint_answers_json(manager):
    response = json_post(manager, "/pathways/lint", {"files": {"steps.bpmn": UNSAFE}})
    assert response.status_code == 200
    result = response.get_json()
    assert not result["ok"] and result["warnings"] == []
    [problem] = result["problems"]
    assert problem["file"] == "steps.bpmn" and problem["element"] == "f4"
    assert "使用できない式" in problem["message"]
    assert json_post(manager, "/pathways/lint", {"files": {"steps.bpmn": RENAMED}}).get_json() == \
        {"ok": True, "problems": [], "warnings": []}
    refused = json_post(manager, "/pathways/lint", {"files": {"../x.bpmn": STEPS}})
    assert refused.status_code == 422 and "使えません" in refused.get_json()["error"]


def test_lint_as_a_plain_form_keeps_the_edited_files_and_lists_the_problems(manager):
    response = form_post(manager, "/pathways/lint", {"steps.bpmn": UNSAFE}, pathway="steps",
                         based_on="1")
    assert response.status_code == 200
    html = text(response)
    assert "問題が 1 件あります" in html and 'data-element="f4"' in html and "使用できない式" in html
    page = Page(html)
    [textarea] = [c for c in page.controls if c.tag == "textarea"]
    assert "__import__" in textarea.text and page.form_values(None)["based_on"] == "1"


def test_lint_for_htmx_is_the_results_fragment_and_warns_of_a_lane_nobody_holds(manager):
    typo = STEPS.replace('<bpmn:lane id="lane_steps" name="担当">', '<bpmn:lane id="lane_steps" name="担等">')
    response = form_post(manager, "/pathways/lint", {"steps.bpmn": typo}, headers={"HX-Request": "true"})
    html = text(response)
    assert response.status_code == 200 and "<html" not in html
    assert "問題はありません。注意が 1 件あります" in html
    assert 'data-kind="warning"' in html and 'data-element="lane_steps"' in html and "担等" in html


def test_a_model_larger_than_any_task_form_is_accepted(manager, app):
    padding = "<!-- " + "重" * 400_000 + " -->"  # 1.2 MB of UTF-8, over the task forms' limits
    large = STEPS.replace("<bpmn:process", padding + "<bpmn:process", 1)
    assert len(large.encode()) > app.config["MAX_CONTENT_LENGTH"] // 2
    # Encoded here: the test client would spool a body this large to a file it never closes.
    boundary, body = encode_multipart({"csrf_token": token(manager), "file:steps.bpmn": large})
    response = manager.post("/pathways/lint", data=body, headers={"HX-Request": "true"},
                            content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 200 and "問題はありません" in text(response)


def test_an_uploaded_file_joins_the_posted_ones(manager):
    data = {"csrf_token": token(manager), "upload": (BytesIO(UNSAFE.encode()), "models/steps.bpmn")}
    response = manager.post("/pathways/lint", data=data, content_type="multipart/form-data",
                            headers={"HX-Request": "true"})
    assert 'data-file="steps.bpmn"' in text(response) and 'data-element="f4"' in text(response)


def test_a_draft_is_saved_and_opened_again(manager, kasane):
    response = form_post(manager, "/pathways/steps/draft", {"steps.bpmn": UNSAFE}, based_on="1")
    assert response.status_code == 303 and response.headers["Location"] == "/pathways/steps/edit?draft=1"
    draft = Page(text(manager.get("/pathways/steps/edit?draft=1")))
    assert "__import__" in [c for c in draft.controls if c.tag == "textarea"][0].text
    latest = text(manager.get("/pathways/steps/edit"))
    assert "下書き（版 1 から）があります" in latest and "__import__" not in latest
    fragment = form_post(manager, "/pathways/steps/draft", {"steps.bpmn": RENAMED},
                         headers={"HX-Request": "true"})
    assert "下書きを保存しました（2025年4月1日 09:00）" in text(fragment)
    saved = json_post(manager, "/pathways/steps/draft", {"files": {"steps.bpmn": RENAMED}, "based_on": 1})
    assert saved.get_json()["saved_by"] == "kato" and saved.get_json()["based_on"] == 1
    assert json_post(manager, "/pathways/steps/draft",
                     {"files": {"steps.bpmn": STEPS}, "based_on": "x"}).status_code == 422
    assert kasane.pathway_files("steps")["version"] == 1  # a draft is not deployed


def test_deploy_refuses_a_model_with_problems_and_names_the_element(manager, kasane):
    response = form_post(manager, "/pathways/deploy", {"steps.bpmn": UNSAFE}, pathway="steps")
    assert response.status_code == 422
    html = text(response)
    assert "デプロイできませんでした: 問題が 1 件あります" in html and 'data-element="f4"' in html
    assert "__import__" in [c for c in Page(html).controls if c.tag == "textarea"][0].text
    as_json = json_post(manager, "/pathways/deploy", {"files": {"steps.bpmn": UNSAFE}})
    assert as_json.status_code == 422 and as_json.get_json()["problems"][0]["element"] == "f4"
    fragment = form_post(manager, "/pathways/deploy", {"steps.bpmn": UNSAFE}, headers={"HX-Request": "true"})
    assert fragment.status_code == 422 and "<html" not in text(fragment)
    assert [v["version"] for v in kasane.list_pathways()[0]["versions"]] == [1]


def test_deploy_makes_a_new_version_and_says_so(manager, kasane):
    response = form_post(manager, "/pathways/deploy", {"steps.bpmn": RENAMED})
    assert response.status_code == 303 and response.headers["Location"] == "/pathways"
    page = text(manager.get("/pathways"))
    assert "デプロイしました: steps 版 2" in page and "版 2" in page
    again = form_post(manager, "/pathways/deploy", {"steps.bpmn": RENAMED}, headers={"HX-Request": "true"})
    assert again.status_code == 204 and again.headers["HX-Redirect"] == "/pathways"
    assert "新しい版は作られませんでした" in text(manager.get("/pathways"))
    renamed_again = STEPS.replace('name="三つ目"', 'name="三番目"')
    assert json_post(manager, "/pathways/deploy", {"files": {"steps.bpmn": renamed_again}}).get_json() == \
        {"deployed": [{"pathway": "steps", "version": 3, "new": True},
                      {"pathway": "steps_side", "version": 3, "new": True}]}
    audit = [e for e in kasane.audit_log() if e["action"] == "pathway.deploy"]
    assert audit and audit[0]["actor"] == "kato" and audit[0]["channel"] == "web"


@pytest.mark.parametrize("path", MIWG, ids=lambda p: p.name)
def test_every_outside_model_lints_to_a_result_in_the_modeler(manager, path):
    response = json_post(manager, "/pathways/lint", {"files": {path.name: path.read_text(encoding="utf-8")}})
    assert response.status_code == 200
    result = response.get_json()
    assert result["ok"] or result["problems"]
    for problem in result["problems"]:
        assert problem["file"] == path.name and problem["message"] and "Traceback" not in problem["message"]


# --- moving cases ------------------------------------------------------------------------------


def test_a_case_is_previewed_migrated_and_reverted(manager, kasane):
    case = kasane.open_case("steps", "ito")["case_id"]
    kasane.deploy_files({"steps.bpmn": RENAMED}, actor="kato")
    listed = text(manager.get("/pathways/steps/versions/1"))
    assert f"ケース {case}" in listed and f"/pathways/steps/cases/{case}" in listed
    preview = text(manager.get(f"/pathways/steps/cases/{case}"))
    assert "版 1 → 版 2 に移すと" in preview and "このケースは移せます" in preview
    assert "三つ目（確認）" in preview  # the change
    assert 'data-testid="active-elements">一つ目<span class="muted">（first）</span>' in preview
    assert "まだ版を移されていません" in preview
    moved = manager.post(f"/pathways/steps/cases/{case}/migrate",
                         data={"csrf_token": csrf_token(preview), "to": "2"})
    assert moved.status_code == 303
    after = text(manager.get(moved.headers["Location"]))
    assert f"ケース {case} を版 1 から版 2 に移しました" in after
    assert 'data-testid="current-version">版 2' in after and "版 1 → 版 2（kato）" in after
    assert kasane.show_case(case)["version"] == 2
    [migration] = kasane.case_migrations(case)
    reverted = manager.post(f"/pathways/steps/cases/{case}/migrations/{migration['migration_id']}/revert",
                            data={"csrf_token": csrf_token(after)})
    assert reverted.status_code == 303
    back = text(manager.get(reverted.headers["Location"]))
    assert "版 1 に戻しました（移行前の状態に戻しました）" in back and "取り消し済み" in back
    assert kasane.show_case(case)["version"] == 1


def test_a_refused_migration_gives_its_reasons_in_japanese(manager, kasane):
    case = kasane.open_case("steps", "ito")["case_id"]
    kasane.deploy_files({"steps.bpmn": STEPS.replace('<bpmn:userTask id="first" name="一つ目"/>',
                                                     '<bpmn:userTask id="first" name="一つ目" '
                                                     'camunda:formKey="受理判断"/>')}, actor="kato")
    preview = text(manager.get(f"/pathways/steps/cases/{case}"))
    assert "このケースは移せません" in preview and "実行中の要素 一つ目（first）が新しい版で変更されています（フォーム）" in preview
    assert "版 2 に移す</button>" not in preview
    refused = manager.post(f"/pathways/steps/cases/{case}/migrate",
                           data={"csrf_token": csrf_token(preview), "to": "2"})
    assert refused.status_code == 409 and "このケースは版 2 に移せません" in text(refused)
    assert manager.get("/pathways/other/cases/%d" % case).status_code == 404
    assert manager.get("/pathways/steps/cases/99").status_code == 404


def test_the_running_cases_of_a_version_come_in_pages(manager, kasane, monkeypatch):
    from webui import modeler
    monkeypatch.setattr(modeler, "PAGE_SIZE", 2)
    cases = [kasane.open_case("steps", "ito")["case_id"] for _ in range(3)]
    first = text(manager.get("/pathways/steps/versions/1"))
    assert f"ケース {cases[1]}<" in first and f"ケース {cases[2]}<" not in first
    assert f"after={cases[1]}" in first
    second = text(manager.get(f"/pathways/steps/versions/1?after={cases[1]}"))
    assert f"ケース {cases[2]}<" in second and "次のケース" not in second
