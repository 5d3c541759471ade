"""Task form pages (/tasks/<id>) and the new consultation (/cases/new) through the HTTP app.

Two cases walk the pathway so that every user task of ``jusou`` and of the processes it
calls opens at least once. Each task's page is read (200, its Japanese labels), sent once
with a wrong date (422, the message at the field, everything typed kept) and once with
valid data (303 to the case). The other tests: a stale form, drafts, who may open a task,
and the new consultation.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

import forms
from engine import clock, coverage
from engine.errors import InvalidInput
from engine.store import Case
from forms.validation import validate_form
from tests.webui.conftest import add_user_fast
from tests.webui.htmlform import Page, csrf_token
from webui.auth import fingerprint
from webui.formdata import MULTIPLE, field_id

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
INTAKE, COORD = "包括化推進員", "相談支援コーディネーター"
OUTREACH, PARTICIPATION = "アウトリーチ支援員", "参加支援コーディネーター"
# Where each role works: agencies of the kinds the pathway refers and assigns tasks to.
AGENCIES = {"かさね地域包括支援センター": "地域包括支援センター",
            "かさねアウトリーチ事業所": "アウトリーチ事業者",
            "かさね参加支援事業所": "参加支援事業者"}
STAFF = {INTAKE: ("yamada", "かさね地域包括支援センター"),
         COORD: ("tanaka", "福祉まるごと相談室"),
         OUTREACH: ("suzuki", "かさねアウトリーチ事業所"),
         PARTICIPATION: ("takahashi", "かさね参加支援事業所")}
BAD_DATE = "2025-02-30"


# ---- people and pages --------------------------------------------------------------------

@pytest.fixture
def kasane(app):
    kasane = app.extensions["kasane"]
    for name, kind in AGENCIES.items():
        kasane.add_agency(name, kind)
    return kasane


@pytest.fixture
def sign_in(app, kasane, _password_hash):
    """A test client signed in as a new user (ready hash, no argon2 round)."""
    def sign_in(name, roles, agency):
        add_user_fast(kasane, name, roles, agency, _password_hash)
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = f"{name}|{fingerprint(_password_hash)}"
            session["_fresh"] = True
        return client
    return sign_in


@pytest.fixture
def staff(sign_in):
    """One signed-in client per role of the pathway."""
    return {role: sign_in(name, [role], agency) for role, (name, agency) in STAFF.items()}


def form_fields(key: str, data: dict) -> MultiDict:
    """Task data as a browser posts it: the inverse of webui.formdata.from_form."""
    fields = MultiDict()
    for spec in forms.field_specs(key):
        _add_field(fields, spec, spec["name"], data.get(spec["name"]))
    return fields


def _add_field(fields: MultiDict, spec: dict, name: str, value) -> None:
    if value is None:
        return
    if spec["widget"] == "rows":
        for index, row in enumerate(value):
            for inner in spec["fields"]:
                _add_field(fields, inner, f"{name}.{index}.{inner['name']}", row.get(inner["name"]))
    elif spec["widget"] == "checkbox":
        if value:
            fields.add(name, "true")
    elif spec["widget"] in MULTIPLE:
        for item in value:
            fields.add(name, item)
    else:
        fields.add(name, str(value))


def entered(values: MultiDict) -> dict:
    """What a form holds, blanks left out and line breaks as the server reads them."""
    kept = {}
    for name in values:
        if name in ("csrf_token", "case_version", "_action"):
            continue
        texts = sorted(v.replace("\r\n", "\n") for v in values.getlist(name) if v.strip())
        if texts:
            kept[name] = texts
    return kept


def post_form(client, url: str, page_html: str, fields: MultiDict, action: str = "submit"):
    """Post ``fields`` with the hidden fields of the page they were typed into."""
    hidden = {c.name: c.attrs.get("value", "") for c in Page(page_html).controls
              if c.type == "hidden" and c.name}
    data = MultiDict(fields)
    for name, value in hidden.items():
        data[name] = value
    data["_action"] = action
    return client.post(url, data=data)


def assert_labels(html: str, key: str) -> None:
    page = Page(html)
    texts = list(page.labels.values()) + list(page.legends.values())
    for spec in forms.field_specs(key):
        assert any(spec["label"] in text for text in texts), f"{key}: no label {spec['label']}"
    for control in page.controls:
        if control.type not in ("hidden", "submit") and control.tag != "button":
            assert control.attrs.get("id") in page.labels, control.attrs


def assert_refused_and_kept(response, key: str, bad: dict, field: str) -> None:
    """422, the engine's message at ``field`` and every value typed still in the form."""
    assert response.status_code == 422, response.get_data(as_text=True)[:2000]
    html = response.get_data(as_text=True)
    with pytest.raises(InvalidInput) as refused:
        validate_form(key, bad)
    message = refused.value.fields[field]
    error = re.search(rf'<p class="field__error" id="{field_id(field)}-error">(.*?)</p>', html, re.S)
    assert error and message in error.group(1)
    assert re.search(rf'id="{field_id(field)}"[^>]*aria-invalid="true"', html)
    assert "入力内容を確認してください" in html
    assert entered(Page(html).form_values(submitter=None)) == entered(form_fields(key, bad))


def shown_version(html: str) -> int:
    return int(re.search(r'name="case_version" value="(\d+)"', html).group(1))


def date_field(key: str) -> str:
    return next(s["name"] for s in forms.field_specs(key) if s["widget"] == "date")


# ---- walking the pathway -------------------------------------------------------------------

class Walk:
    """Drives a case task by task through the task pages, as the role of each task."""

    def __init__(self, kasane, staff):
        self.kasane = kasane
        self.staff = staff
        self.walked: set[str] = set()  # element ids of the user tasks completed
        self.case_id: int | None = None

    def at(self, day: str) -> None:
        clock.set_now(day)

    def open_task(self, name: str) -> dict:
        tasks = self.kasane.list_tasks(case_id=self.case_id)  # fires the timers due
        found = [t for t in tasks if t["name"] == name]
        assert found, f"「{name}」がありません: {[t['name'] for t in tasks]}"
        return found[0]

    def complete(self, name: str, **changes) -> None:
        """Complete the open task ``name`` from its page with the form's example data and
        ``changes`` (None leaves a field empty); the first time for each task, after a
        refused try with a wrong date."""
        task = self.open_task(name)
        client, key = self.staff[task["role"]], task["form"]
        url = f"/tasks/{task['task_id']}"
        shown = client.get(url)
        assert shown.status_code == 200
        html = shown.get_data(as_text=True)
        assert f"<h1>{name}</h1>" in html and f"ケース {self.case_id}" in html
        assert_labels(html, key)
        data = {k: v for k, v in (forms.example_values(key) | changes).items() if v is not None}
        if task["element"] not in self.walked:
            field = date_field(key)
            bad = data | {field: BAD_DATE}
            assert_refused_and_kept(post_form(client, url, html, form_fields(key, bad)), key, bad, field)
            assert self.open_task(name)["task_id"] == task["task_id"]  # still open
        done = post_form(client, url, html, form_fields(key, data))
        assert done.status_code == 303, done.get_data(as_text=True)[:3000]
        # A worker who saw the case only through this task (assignTo) goes back to the inbox.
        assigned_only = task["role"] in ("アウトリーチ支援員", "参加支援コーディネーター")
        assert done.headers["Location"] == ("/" if assigned_only else f"/cases/{self.case_id}")
        self.walked.add(task["element"])


def user_tasks_of(process_id: str) -> set[str]:
    return {t.id for t in coverage.find_process(coverage.read_model_dir(WORKFLOWS), process_id).tasks}


# Case A: 多機関協働 from the new-consultation page, no consent at first (支援会議 and
# アウトリーチ), a plan with 参加支援 and アウトリーチ, 連絡途絶の確認 30 days on, 再プラン,
# 終結 and フォローアップ.
WALK_A = {"acceptance", "consent", "support_meeting", "outreach_visit", "assessment", "plan",
          "plan_review", "matching", "visit", "participation_followup", "nocontact_warning",
          "monitoring", "replan", "replan_review", "closure_review", "followup_check"}
# Case B: 相談受付 on its task page, ネットワーク対応, a 支援会議 without アウトリーチ (the
# consent asked again), a plan, a contact lost (消息不明) and 中断.
WALK_B = {"intake", "network_record", "acceptance", "consent", "support_meeting",
          "consent_recheck", "assessment", "plan", "plan_review", "nocontact_warning",
          "monitoring", "suspension_review"}


def test_the_two_walks_open_every_user_task_of_the_pathway():
    every = user_tasks_of("jusou") | user_tasks_of("sanka_shien") | user_tasks_of("outreach")
    assert len(user_tasks_of("jusou")) == 17
    assert WALK_A | WALK_B == every


def test_case_a_from_the_new_consultation_to_follow_up(app, kasane, staff):
    walk = Walk(kasane, staff)
    walk.at("2025-04-07")
    walk.case_id = new_consultation(staff[INTAKE], forms.example_values("相談受付") | {"対応": "多機関協働"})
    walk.at("2025-04-18")
    walk.complete("受理判断", 判断日="2025-04-18", 判断="受理")
    walk.complete("同意確認", 対象者="重 一郎", 同意="なし", 同意日=None)
    walk.at("2025-04-25")
    walk.complete("支援会議記録", 開催日="2025-04-25", 合意事項=["見守り", "アウトリーチ"],
                  次回予定日="2025-05-23")
    walk.at("2025-05-02")
    walk.complete("アウトリーチ訪問記録", 訪問日="2025-05-02", 結果="同意取得", 次回訪問日=None)
    walk.at("2025-06-09")
    walk.complete("アセスメント", 実施日="2025-06-09")
    walk.at("2025-06-11")
    walk.complete("プラン作成", 作成日="2025-06-11", モニタリング予定日="2025-09-12",
                  参加支援利用=True, アウトリーチ利用=True)
    walk.at("2025-06-13")
    walk.complete("プラン協議", 会議日="2025-06-13", 結果="適切")
    walk.at("2025-07-01")
    walk.complete("参加支援マッチング", 受け入れ先="みどり農園", 開始日="2025-07-01")
    walk.complete("アウトリーチ訪問記録", 訪問日="2025-07-01", 結果="同意取得", 次回訪問日=None)
    walk.at("2025-07-15")  # two weeks after the matching; 30 days without contact since the plan
    walk.complete("参加支援フォローアップ", 確認日="2025-07-15", 状況="終了")
    walk.complete("連絡途絶の確認", 確認日="2025-07-15")
    walk.at("2025-09-12")
    walk.complete("モニタリング", 実施日="2025-09-12", 方向性="再プラン", 次回予定日=None)
    walk.at("2025-09-20")
    walk.complete("再プラン作成", 作成日="2025-09-20", モニタリング予定日="2025-12-01")
    walk.at("2025-09-25")
    walk.complete("再プラン協議", 会議日="2025-09-25", 結果="適切")
    walk.at("2025-12-01")
    walk.complete("モニタリング", 実施日="2025-12-01", 方向性="終結", 次回予定日=None)
    walk.at("2025-12-15")
    walk.complete("終結協議", 会議日="2025-12-15", 判断="終結", フォローアップ予定日="2026-03-16")
    walk.at("2026-03-16")
    walk.complete("フォローアップ確認", 確認日="2026-03-16", 結果="問題なし")
    assert walk.walked == WALK_A
    assert kasane.show_case(walk.case_id)["stage"] == "終結"


def test_case_b_from_intake_on_its_task_page_to_suspension(app, kasane, staff):
    walk = Walk(kasane, staff)
    walk.at("2025-06-02")
    walk.case_id = kasane.open_case("jusou", STAFF[INTAKE][0])["case_id"]
    walk.complete("相談受付", 受付日="2025-06-02", 対応="ネットワーク対応")
    walk.complete("ネットワーク対応記録", 対応日="2025-06-02", 結果="多機関協働へ")
    walk.at("2025-06-05")
    walk.complete("受理判断", 判断日="2025-06-05", 判断="受理")
    walk.complete("同意確認", 同意="なし", 同意日=None)
    walk.at("2025-06-10")
    walk.complete("支援会議記録", 開催日="2025-06-10", 合意事項=["見守り"], 次回予定日="2025-07-10")
    walk.at("2025-07-10")
    walk.complete("同意確認", 同意="あり", 同意日="2025-07-10")
    walk.complete("アセスメント", 実施日="2025-07-10")
    walk.at("2025-08-20")
    walk.complete("プラン作成", 作成日="2025-08-20", モニタリング予定日="2025-11-21",
                  参加支援利用=False, アウトリーチ利用=False)
    walk.at("2025-08-22")
    walk.complete("プラン協議", 会議日="2025-08-22", 結果="適切")
    walk.at("2025-10-22")
    coordinator = STAFF[COORD][0]
    kasane.send_event(walk.case_id, "接触記録", coordinator,
                      {"日付": "2025-10-22", "方法": "訪問", "結果": "消息不明"})
    kasane.send_event(walk.case_id, "状況変化", coordinator, {"日付": "2025-10-22", "内容": "転居した。"})
    walk.complete("連絡途絶の確認", 確認日="2025-10-22")
    walk.complete("モニタリング", 実施日="2025-10-22", 方向性="中断検討", 次回予定日=None)
    walk.at("2025-11-07")
    walk.complete("中断協議", 会議日="2025-11-07", 判断="中断", 最終接触日="2025-08-22",
                  中断理由="消息不明")
    assert walk.walked == WALK_B
    assert kasane.show_case(walk.case_id)["stage"] == "中断"


# ---- the new consultation --------------------------------------------------------------------

def new_consultation(client, data: dict) -> int:
    """File a new consultation from /cases/new; the new case's id."""
    page = client.get("/cases/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert_labels(html, "相談受付")
    field = date_field("相談受付")
    bad = data | {field: BAD_DATE}
    assert_refused_and_kept(post_form(client, "/cases/new", html, form_fields("相談受付", bad)),
                            "相談受付", bad, field)
    done = post_form(client, "/cases/new", html, form_fields("相談受付", data))
    assert done.status_code == 303, done.get_data(as_text=True)[:3000]
    match = re.fullmatch(r"/cases/(\d+)", done.headers["Location"])
    assert match
    return int(match.group(1))


def case_count(kasane) -> int:
    with kasane.transaction() as session:
        return session.scalar(select(func.count()).select_from(Case))


def test_a_new_consultation_opens_a_case_at_its_stage(kasane, staff):
    clock.set_now("2025-04-07")
    client = staff[INTAKE]
    home = client.get("/").get_data(as_text=True)
    assert '<a class="site-header__link" href="/cases/new">新規相談</a>' in home
    page = client.get("/cases/new").get_data(as_text=True)
    assert "<h1>新規相談（相談受付票）</h1>" in page and "受け付ける" in page
    case_id = new_consultation(client, forms.example_values("相談受付") | {"対応": "多機関協働"})
    case = kasane.show_case(case_id)
    assert case["stage"] == "多機関協働" and case["data"]["氏名"] == "重 花子"
    assert [t["name"] for t in case["tasks"]] == ["受理判断"]
    shown = client.get("/").get_data(as_text=True)
    assert f"ケース {case_id} を開き、『相談受付』を完了しました。" in shown


def test_a_refused_consultation_leaves_no_case_and_keeps_the_input(kasane, staff):
    client = staff[INTAKE]
    html = client.get("/cases/new").get_data(as_text=True)
    bad = forms.example_values("相談受付") | {"受付日": BAD_DATE}
    assert_refused_and_kept(post_form(client, "/cases/new", html, form_fields("相談受付", bad)),
                            "相談受付", bad, "受付日")
    missing = {k: v for k, v in bad.items() if k != "氏名"} | {"受付日": "2025-04-07"}
    response = post_form(client, "/cases/new", html, form_fields("相談受付", missing))
    assert response.status_code == 422
    assert re.search(r'id="f-氏名-error">.*必須項目です。', response.get_data(as_text=True))
    assert case_count(kasane) == 0


def test_a_consultation_by_someone_without_the_intake_role_is_refused(kasane, staff):
    client = staff[COORD]
    html = client.get("/cases/new").get_data(as_text=True)
    response = post_form(client, "/cases/new", html, form_fields("相談受付", forms.example_values("相談受付")))
    assert response.status_code == 403
    assert "包括化推進員" in response.get_data(as_text=True)
    assert case_count(kasane) == 0


def test_the_new_consultation_adds_rows_without_javascript(staff):
    client = staff[INTAKE]
    html = client.get("/cases/new").get_data(as_text=True)
    fields = form_fields("相談受付", {"氏名": "重 花子"})
    fields.add("連携シート.0.紹介理由", "役割の整理")
    response = post_form(client, "/cases/new", html, fields, action="add:連携シート")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "連携シート（多機関協働へつなぐとき） 2行目" in page
    assert entered(Page(page).form_values(submitter=None)) == {"氏名": ["重 花子"],
                                                                "連携シート.0.紹介理由": ["役割の整理"]}


# ---- one task in detail --------------------------------------------------------------------

@pytest.fixture
def acceptance(kasane, staff):
    """A case at 受理判断 (04-07), and that task."""
    clock.set_now("2025-04-07")
    case = kasane.open_case_and_complete_first_task("jusou", STAFF[INTAKE][0],
                                                    forms.example_values("相談受付"))
    return case["tasks"][0] | {"case_id": case["case_id"]}


def test_the_task_page_shows_the_task_its_case_and_the_data_it_reads(kasane, staff, acceptance):
    clock.set_now("2025-04-08")
    html = staff[COORD].get(f"/tasks/{acceptance['task_id']}").get_data(as_text=True)
    assert "<h1>受理判断</h1>" in html
    assert f'<a href="/cases/{acceptance["case_id"]}">ケース {acceptance["case_id"]}</a>' in html
    assert "<dt>本人</dt><dd>重 花子</dd>" in html
    assert "<dt>段階</dt><dd>多機関協働</dd>" in html
    assert "<dt>受付日</dt><dd>2025年4月7日</dd>" in html  # the case data, labelled
    assert "<dt>相談内容</dt><dd>介護、ひきこもり・不登校、税・公共料金</dd>" in html
    assert "下書きを読み込みました" not in html
    values = entered(Page(html).form_values(submitter=None))
    assert values == {}  # no draft: an empty form
    assert 'name="case_version" value="' in html and "完了する" in html and "下書き保存" in html


def test_an_overdue_task_says_so(kasane, staff):
    clock.set_now("2025-06-02")
    case = kasane.open_case_and_complete_first_task("jusou", STAFF[INTAKE][0],
                                                    forms.example_values("相談受付"))
    kasane.complete_task(case["tasks"][0]["task_id"], STAFF[COORD][0], forms.example_values("受理判断"))
    consent = kasane.list_tasks(case_id=case["case_id"])[0]
    kasane.complete_task(consent["task_id"], STAFF[COORD][0],
                         forms.example_values("同意確認") | {"同意": "なし"})
    meeting = kasane.list_tasks(case_id=case["case_id"])[0]
    kasane.complete_task(meeting["task_id"], STAFF[COORD][0],
                         forms.example_values("支援会議記録") | {"合意事項": ["見守り"],
                                                            "次回予定日": "2025-06-30"})
    recheck = kasane.list_tasks(case_id=case["case_id"])[0]
    url = f"/tasks/{recheck['task_id']}"
    assert "期限切れ" not in staff[COORD].get(url).get_data(as_text=True)
    clock.set_now("2025-07-01")
    html = staff[COORD].get(url).get_data(as_text=True)
    assert re.search(r"<dt>期限</dt><dd>2025年6月30日 <strong[^>]*>期限切れ</strong>", html)


def test_completing_a_task_says_so_on_the_next_page(staff, acceptance):
    client = staff[COORD]
    url = f"/tasks/{acceptance['task_id']}"
    html = client.get(url).get_data(as_text=True)
    done = post_form(client, url, html, form_fields("受理判断", forms.example_values("受理判断")))
    assert done.status_code == 303 and done.headers["Location"] == f"/cases/{acceptance['case_id']}"
    assert "『受理判断』を完了しました。" in client.get("/").get_data(as_text=True)
    again = client.get(url).get_data(as_text=True)  # the task page of a task done
    assert "このタスクは完了しています。" in again and 'id="task-form"' not in again


def test_a_stale_form_gets_the_conflict_with_the_input_kept(kasane, sign_in, staff, acceptance):
    first, second = staff[COORD], sign_in("sato", [COORD], "福祉まるごと相談室")
    url = f"/tasks/{acceptance['task_id']}"
    page_first = first.get(url).get_data(as_text=True)
    page_second = second.get(url).get_data(as_text=True)
    done = post_form(first, url, page_first, form_fields("受理判断", forms.example_values("受理判断")))
    assert done.status_code == 303
    typed = {"判断日": "2025-04-09", "判断": "差し戻し", "助言": "民生委員と確認してください。"}
    late = post_form(second, url, page_second, form_fields("受理判断", typed))
    assert late.status_code == 409
    html = late.get_data(as_text=True)
    assert "ほかの操作と重なりました" in html and "タスク「受理判断」は既に完了しています。" in html
    assert entered(Page(html).form_values(submitter=None)) == entered(form_fields("受理判断", typed))
    assert f'<a href="{url}">入力内容を破棄して、最新の内容で開き直す</a>' in html
    assert ">完了する</button>" not in html  # nothing left to complete
    assert kasane.list_tasks(case_id=acceptance["case_id"])[0]["name"] == "同意確認"


def test_a_form_shown_before_the_case_changed_is_sent_again_after_a_look(kasane, staff):
    clock.set_now("2025-04-07")
    case = kasane.open_case_and_complete_first_task("jusou", STAFF[INTAKE][0],
                                                    forms.example_values("相談受付"))
    coordinator = STAFF[COORD][0]
    kasane.complete_task(case["tasks"][0]["task_id"], coordinator, forms.example_values("受理判断"))
    consent = kasane.list_tasks(case_id=case["case_id"])[0]
    kasane.complete_task(consent["task_id"], coordinator,
                         forms.example_values("同意確認") | {"同意": "なし"})
    meeting = kasane.list_tasks(case_id=case["case_id"])[0]
    url = f"/tasks/{meeting['task_id']}"
    client = staff[COORD]
    html = client.get(url).get_data(as_text=True)
    kasane.send_event(case["case_id"], "接触記録", coordinator,  # the case changes meanwhile
                      {"日付": "2025-04-08", "方法": "電話", "結果": "接触"})
    typed = forms.example_values("支援会議記録") | {"合意事項": ["見守り"]}
    stale = post_form(client, url, html, form_fields("支援会議記録", typed))
    assert stale.status_code == 409
    again = stale.get_data(as_text=True)
    assert "このケースは表示したあとで更新されました。" in again
    assert entered(Page(again).form_values(submitter=None)) == entered(form_fields("支援会議記録", typed))
    assert ">完了する</button>" in again
    assert shown_version(again) > shown_version(html)
    sent = client.post(url, data=Page(again).form_values())  # what the user sees, sent again
    assert sent.status_code == 303


def test_a_draft_is_saved_unchecked_and_resumed_by_its_writer_only(kasane, sign_in, staff, acceptance):
    client = staff[COORD]
    url = f"/tasks/{acceptance['task_id']}"
    html = client.get(url).get_data(as_text=True)
    half = {"判断日": "あした", "理由": "複数分野の課題がある。\n続きは明日。"}
    clock.set_now("2025-04-07T10:30:00+09:00")
    saved = post_form(client, url, html, form_fields("受理判断", half), action="save_draft")
    assert saved.status_code == 303 and saved.headers["Location"] == url
    resumed = client.get(url).get_data(as_text=True)
    assert "下書きを保存しました。" in resumed
    assert "下書きを読み込みました（保存日時 2025年4月7日 10:30）。" in resumed
    assert entered(Page(resumed).form_values(submitter=None)) == entered(form_fields("受理判断", half))
    other = sign_in("sato", [COORD], "福祉まるごと相談室").get(url).get_data(as_text=True)
    assert "下書きを読み込みました" not in other and "続きは明日" not in other
    # Completing it checks it, like any form, and then the draft is gone.
    refused = post_form(client, url, resumed, form_fields("受理判断", half))
    assert refused.status_code == 422 and 'id="f-判断日-error"' in refused.get_data(as_text=True)
    done = post_form(client, url, resumed, form_fields("受理判断", forms.example_values("受理判断")))
    assert done.status_code == 303
    assert kasane.get_task(acceptance["task_id"], actor=STAFF[COORD][0])["draft"] is None


def test_rows_are_added_and_removed_on_a_task_page(kasane, staff):
    clock.set_now("2025-04-07")
    case = kasane.open_case("jusou", STAFF[INTAKE][0])
    url = f"/tasks/{case['tasks'][0]['task_id']}"
    client = staff[INTAKE]
    html = client.get(url).get_data(as_text=True)
    fields = form_fields("相談受付", {"氏名": "重 花子", "連携シート": [{"紹介理由": "一つめ"}]})
    added = post_form(client, url, html, fields, action="add:連携シート")
    assert added.status_code == 200
    page = added.get_data(as_text=True)
    assert "2行目" in page and 'name="case_version"' in page
    fields.add("連携シート.1.紹介理由", "二つめ")
    removed = post_form(client, url, page, fields, action="remove:連携シート.0")
    assert entered(Page(removed.get_data(as_text=True)).form_values(submitter=None)) == {
        "氏名": ["重 花子"], "連携シート.0.紹介理由": ["二つめ"]}  # renumbered
    fragment = client.post(url, data=Page(page).form_values(("_action", "add:連携シート")),
                           headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.get_data(as_text=True).lstrip().startswith('<fieldset class="field field--rows')


def test_a_post_without_the_case_version_is_refused(staff, acceptance):
    client = staff[COORD]
    url = f"/tasks/{acceptance['task_id']}"
    token = csrf_token(client.get(url).get_data(as_text=True))
    response = client.post(url, data={"csrf_token": token, "判断日": "2025-04-07", "判断": "受理"})
    assert response.status_code == 400


# ---- who may open a task ---------------------------------------------------------------------

def test_a_worker_at_an_agency_without_the_case_finds_nothing(kasane, sign_in, acceptance):
    outsider = sign_in("ito", [COORD], "デモ市")  # the right role, but the case is not theirs
    url = f"/tasks/{acceptance['task_id']}"
    shown = outsider.get(url)
    assert shown.status_code == 404
    html = shown.get_data(as_text=True)
    assert "重 花子" not in html and "受付日" not in html and "受理判断" not in html
    token = csrf_token(html)
    sent = outsider.post(url, data={"csrf_token": token, "case_version": "1", "判断日": "2025-04-07",
                                    "判断": "受理"})
    assert sent.status_code == 404 and "重 花子" not in sent.get_data(as_text=True)
    assert kasane.list_tasks(case_id=acceptance["case_id"])[0]["name"] == "受理判断"


def test_a_worker_who_knows_the_case_but_not_the_tasks_role_is_refused(kasane, staff):
    clock.set_now("2025-04-25")
    case = kasane.open_case_and_complete_first_task("jusou", STAFF[INTAKE][0],
                                                    forms.example_values("相談受付"))
    coordinator = STAFF[COORD][0]
    kasane.complete_task(case["tasks"][0]["task_id"], coordinator, forms.example_values("受理判断"))
    consent = kasane.list_tasks(case_id=case["case_id"])[0]
    kasane.complete_task(consent["task_id"], coordinator, forms.example_values("同意確認") | {"同意": "なし"})
    meeting = kasane.list_tasks(case_id=case["case_id"])[0]
    kasane.complete_task(meeting["task_id"], coordinator, forms.example_values("支援会議記録"))
    tasks = {t["name"]: t for t in kasane.list_tasks(case_id=case["case_id"])}
    # The outreach worker has a visit of their own on the case, not its 支援会議記録.
    url = f"/tasks/{tasks['支援会議記録']['task_id']}"
    refused = staff[OUTREACH].get(url)
    assert refused.status_code == 403
    html = refused.get_data(as_text=True)
    assert "重 花子" not in html and "あわら市" not in html and "ケースの情報" not in html
    assert staff[OUTREACH].get(f"/tasks/{tasks['アウトリーチ訪問記録']['task_id']}").status_code == 200
    # The receiving worker sees the whole case, but the task is not theirs to complete.
    receiving = staff[INTAKE]
    shown = receiving.get(url).get_data(as_text=True)
    assert "役割「相談支援コーディネーター」の利用者です" in shown and 'id="task-form"' not in shown
    sent = receiving.post(url, data={"csrf_token": csrf_token(shown), "case_version": "99",
                                     "開催日": "2025-04-25", "合意事項": "見守り"})
    assert sent.status_code == 403 and "重 花子" not in sent.get_data(as_text=True)


def test_an_unknown_task_is_not_found_and_signing_in_comes_first(client, staff):
    assert staff[COORD].get("/tasks/00000000-0000-0000-0000-000000000000").status_code == 404
    response = client.get("/tasks/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/cases/new").status_code == 302


NO_FORM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D"
    targetNamespace="http://kasane.example/tests">
  <bpmn:process id="noform" name="確認だけ" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane" name="包括化推進員">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>end</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check"/>
    <bpmn:userTask id="check" name="書類の確認"/>
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_task_without_a_form_is_completed_with_its_button(kasane, staff, tmp_path):
    (tmp_path / "noform.bpmn").write_text(NO_FORM, encoding="utf-8")
    kasane.deploy([tmp_path / "noform.bpmn"])
    case = kasane.open_case("noform", STAFF[INTAKE][0])
    url = f"/tasks/{case['tasks'][0]['task_id']}"
    client = staff[INTAKE]
    html = client.get(url).get_data(as_text=True)
    assert "<h1>書類の確認</h1>" in html and "このタスクには入力項目がありません。" in html
    done = post_form(client, url, html, MultiDict())
    assert done.status_code == 303 and done.headers["Location"] == f"/cases/{case['case_id']}"
    assert kasane.show_case(case["case_id"])["tasks"] == []
