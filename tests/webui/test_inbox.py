"""The inbox (/) with the real app and engine: whose tasks it lists, filters, orders, pages
of 50, claiming and releasing, the header's count, htmx fragments and whole pages."""
from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta
from urllib.parse import unquote

import pytest

import forms
from engine import clock
from tests.conftest import MODELS
from tests.webui.htmlform import Page, csrf_token
from tests.webui.people import HTMX, INTAKE, inbox_count, intake, sign_in_as, task_rows, text_of


class Office:
    """デモ市 (yamada, 包括化推進員) receives consultations; 福祉まるごと相談室 (tanaka and ito,
    coordinators) takes them on; 包括B (sato, a coordinator too) holds none of them."""

    def __init__(self, app, password_hash):
        self.kasane = app.extensions["kasane"]
        self.kasane.deploy([MODELS / "sample.bpmn"])  # 受理判断 due in 7 days (P7D), stage 多機関協働
        self.kasane.add_agency("包括B", "地域包括支援センター")
        self.yamada = sign_in_as(app, password_hash, "yamada", [INTAKE], "デモ市")
        self.tanaka = sign_in_as(app, password_hash, "tanaka")
        self.ito = sign_in_as(app, password_hash, "ito")
        self.sato = sign_in_as(app, password_hash, "sato", agency="包括B")

    def task_of(self, case_id: int, actor="tanaka") -> str:
        return self.kasane.list_tasks(case_id=case_id, actor=actor)[0]["task_id"]


@pytest.fixture
def office(app, _password_hash):
    clock.set_now("2025-04-07")
    return Office(app, _password_hash)


def page_of(client, url="/", **kwargs):
    response = client.get(url, **kwargs)
    return response, response.get_data(as_text=True)


def test_a_coordinator_sees_their_roles_tasks_with_case_person_stage_and_due(office):
    first = intake(office.kasane, "yamada", "重 花子", "かさね はなこ")
    second = intake(office.kasane, "yamada", "山田 一郎", "やまだ いちろう")
    dated = office.kasane.open_case("sample", "tanaka")["case_id"]
    response, html = page_of(office.tanaka)
    assert response.status_code == 200
    assert "<h1>担当タスク</h1>" in html and '<h2 id="inbox-view" class="inbox__title">役割のタスク</h2>' in html
    rows = task_rows(html)
    assert len(rows) == 3
    texts = list(t for _, t in rows.values())
    assert texts[0].startswith(f"受理判断 ケース {dated} （未登録） 多機関協働 2025年4月14日 なし 担当する")
    assert sorted(texts[1:]) == sorted(
        f"受理判断 ケース {case} {person} 多機関協働 期限なし なし 担当する （受理判断、ケース {case}） 処理中…"
        for case, person in ((first, "重 花子"), (second, "山田 一郎")))
    task = office.task_of(first)
    assert f'<a href="/tasks/{task}">受理判断</a>' in html and f'<a href="/cases/{first}">ケース {first}</a>' in html
    assert inbox_count(html) == "3"
    assert "None" not in html and "3件を表示しています（期限が近い順）。" in html

    _, html = page_of(office.yamada)  # 包括化推進員: the 受理判断 is not their role's
    assert task_rows(html) == {} and "該当するタスクはありません。" in html and inbox_count(html) == "0"


def test_the_header_counts_no_further_than_its_limit(office, app):
    for name, kana in (("重 花子", "かさね はなこ"), ("山田 一郎", "やまだ いちろう")):
        intake(office.kasane, "yamada", name, kana)
    app.config["INBOX_COUNT_LIMIT"] = 1
    _, html = page_of(office.tanaka)
    assert inbox_count(html) == "1+" and len(task_rows(html)) == 2  # the list itself is whole
    app.config["INBOX_COUNT_LIMIT"] = 2
    assert inbox_count(page_of(office.tanaka)[1]) == "2"
    assert office.kasane.count_tasks(actor="tanaka", up_to=1) == 1
    assert office.kasane.count_tasks(actor="tanaka") == 2


def test_tasks_of_cases_another_agency_holds_are_not_listed(office):
    intake(office.kasane, "yamada", "重 花子", "かさね はなこ")
    office.kasane.open_case("sample", "tanaka")
    _, html = page_of(office.sato)  # the same role, at an agency that holds neither case
    assert task_rows(html) == {} and inbox_count(html) == "0"
    own = office.kasane.open_case("sample", "sato")["case_id"]
    _, html = page_of(office.sato)
    assert [text.split()[2] for _, text in task_rows(html).values()] == [str(own)]


@pytest.fixture
def dated(office):
    """Three coordinator tasks: 受理判断 due 4/14 and 4/17, and 同意確認 (stage アセスメント)."""
    early = office.kasane.open_case("sample", "tanaka")["case_id"]
    accepted = office.kasane.open_case("sample", "tanaka")["case_id"]
    office.kasane.complete_task(office.task_of(accepted), "tanaka",
                                {**forms.example_values("受理判断"), "判断": "受理"})
    clock.set_now("2025-04-10")
    late = office.kasane.open_case("sample", "tanaka")["case_id"]
    clock.set_now("2025-04-15")  # the first 受理判断 is a day overdue
    return {"early": office.task_of(early), "late": office.task_of(late), "accepted": office.task_of(accepted)}


def names(html):
    return [text.split()[0] for _, text in task_rows(html).values()]


def test_overdue_tasks_are_marked_in_words_and_listed_alone(office, dated):
    _, html = page_of(office.tanaka)
    rows = task_rows(html)
    assert "task-row--overdue" in rows[dated["early"]][0] and "期限切れ 2025年4月14日" in rows[dated["early"]][1]
    assert "task-row--overdue" not in rows[dated["late"]][0] and "期限切れ" not in rows[dated["late"]][1]
    _, html = page_of(office.tanaka, "/?overdue=1")
    assert list(task_rows(html)) == [dated["early"]]
    assert re.search(r'href="/\?overdue=1"[^>]*aria-current="page">期限切れ</a>', html)
    assert "期限切れのタスク</h2>" in html and 'name="overdue" value="1" checked' in html


def test_filters_by_stage_due_date_and_mine_keep_their_values(office, dated):
    _, html = page_of(office.tanaka, "/?stage=アセスメント")
    assert names(html) == ["同意確認"] and '<option value="アセスメント" selected>' in html
    _, html = page_of(office.tanaka, "/?due_before=2025-04-14")  # the day itself is included
    assert list(task_rows(html)) == [dated["early"]] and 'value="2025-04-14"' in html
    _, html = page_of(office.tanaka, "/?due_before=2025-04-13")
    assert task_rows(html) == {} and "該当するタスクはありません。" in html
    office.kasane.claim_task(dated["late"], "tanaka")
    _, html = page_of(office.tanaka, "/?view=mine")
    assert list(task_rows(html)) == [dated["late"]] and "自分が担当しているタスク</h2>" in html
    assert '<input type="hidden" name="view" value="mine">' in html  # the filters stay in this view
    _, html = page_of(office.tanaka, "/?view=mine&overdue=1")
    assert task_rows(html) == {}
    _, html = page_of(office.ito, "/?view=mine")
    assert task_rows(html) == {}


def test_the_stage_filter_offers_the_stages_of_the_deployed_pathways(office):
    _, html = page_of(office.tanaka)
    stages = [v for c in Page(html).controls if c.name == "stage" for v, _ in c.options]
    assert stages[0] == "" and {"受け止め", "多機関協働", "アセスメント", "モニタリング"} <= set(stages)
    _, html = page_of(office.tanaka, "/?stage=どこにもない段階")
    assert '<option value="どこにもない段階" selected>' in html and "該当するタスクはありません。" in html


def test_newest_first_lists_the_latest_tasks_first(office, dated):
    _, due_first = page_of(office.tanaka)
    _, newest = page_of(office.tanaka, "/?order=newest")
    assert list(task_rows(due_first)) == [dated["early"], dated["late"], dated["accepted"]]
    assert list(task_rows(newest))[0] == dated["late"]
    assert '<option value="newest" selected>新しい順</option>' in newest and "（新しい順）" in newest


@pytest.mark.parametrize("query, message", [
    ("due_before=2025-13-01", "日付は 2025-09-12 の形で入力してください。"),
    ("after=not-a-cursor", "が正しくありません"),
    ("order=name", "並び順 'name' はありません"),
])
def test_wrong_filters_are_explained_in_japanese(office, query, message):
    response, html = page_of(office.tanaka, f"/?{query}")
    assert response.status_code == 422
    assert "条件を確認してください" in html and message in htmllib.unescape(html)
    if query.startswith("due_before"):
        assert 'aria-invalid="true" aria-describedby="filter-due-before-error"' in html


def test_pages_of_50_follow_the_cursor_and_keep_the_filters(office):
    opened = []
    for _ in range(53):
        opened.append(office.kasane.open_case("sample", "tanaka")["case_id"])
        clock.advance(timedelta(minutes=1))
    _, html = page_of(office.tanaka, "/?stage=多機関協働")
    first = task_rows(html)
    assert len(first) == 50 and "50件を表示しています" in html
    link = htmllib.unescape(re.search(r'class="pager__next" href="([^"]+)"[^>]*>次の50件</a>', html).group(1))
    assert "stage=" in link and "after=" in link
    _, html = page_of(office.tanaka, link)
    rest = task_rows(html)
    assert len(rest) == 3 and "次の50件" not in html and "最初のページへ" in html
    assert "続きの3件を表示しています" in html
    cases = [int(text.split()[2]) for _, text in list(first.values()) + list(rest.values())]
    assert cases == opened  # every task once, due first


def test_htmx_gets_the_inbox_region_and_a_boosted_visit_the_whole_page(office):
    office.kasane.open_case("sample", "tanaka")
    response, html = page_of(office.tanaka, "/?overdue=1", headers=HTMX)
    assert html.lstrip().startswith('<section id="inbox"') and "<html" not in html
    assert "inbox-count" not in html and "HX-Request" in response.headers["Vary"]
    assert 'hx-push-url="true"' in html and 'hx-indicator="#inbox-loading"' in html
    response, html = page_of(office.tanaka, "/", headers={**HTMX, "HX-Boosted": "true"})
    assert html.startswith("<!doctype html>") and inbox_count(html) == "1"


def test_every_control_has_a_japanese_label(office):
    office.kasane.open_case("sample", "tanaka")
    _, html = page_of(office.tanaka)
    page = Page(html)
    visible = [c for c in page.controls if c.type not in ("hidden", "submit")]
    assert visible and all(page.labels.get(c.attrs.get("id")) for c in visible)
    assert [page.labels[c.attrs["id"]] for c in visible] == ["段階", "期限（この日まで）", "期限切れのみ", "並び順"]


def post_claim(client, task_id, action="claim", headers=None, next_path="/?stage=多機関協働"):
    token = csrf_token(client.get("/").get_data(as_text=True))
    return client.post(f"/tasks/{task_id}/{action}", data={"csrf_token": token, "next": next_path},
                       headers=headers or {})


def test_claim_and_release_without_javascript(office):
    task = office.task_of(office.kasane.open_case("sample", "tanaka")["case_id"])
    response = post_claim(office.tanaka, task)
    assert response.status_code == 303 and unquote(response.headers["Location"]) == "/?stage=多機関協働"
    _, html = page_of(office.tanaka, response.headers["Location"])
    assert "タスク「受理判断」を担当しました。" in html
    assert "tanaka 担当を外す" in task_rows(html)[task][1]
    _, html = page_of(office.ito)  # the other coordinator sees who took it, and no button
    assert task_rows(html)[task][1].endswith("2025年4月14日 tanaka")
    response = post_claim(office.tanaka, task, "release")
    _, html = page_of(office.tanaka, response.headers["Location"])
    assert "タスク「受理判断」の担当を外しました。" in html and "なし 担当する" in task_rows(html)[task][1]


def test_claim_with_htmx_swaps_the_row_and_sends_the_count(office):
    intake(office.kasane, "yamada", "重 花子", "かさね はなこ")
    task = office.task_of(office.kasane.open_case("sample", "tanaka")["case_id"])
    response = post_claim(office.tanaka, task, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and html.lstrip().startswith(f'<tr id="task-{task}"')
    assert "tanaka 担当を外す" in task_rows(html)[task][1]
    assert re.search(r'<span id="inbox-count"[^>]*hx-swap-oob="true">2</span>', html)
    assert 'id="flash"' in html and "タスク「受理判断」を担当しました。" in html
    response = post_claim(office.tanaka, task, "release", headers=HTMX)
    assert "なし 担当する" in task_rows(response.get_data(as_text=True))[task][1]


def test_a_task_someone_else_claimed_is_a_conflict_in_words_not_an_error_page(office):
    task = office.task_of(office.kasane.open_case("sample", "tanaka")["case_id"])
    _, stale = page_of(office.tanaka)  # shown before ito claims it
    assert "担当する" in task_rows(stale)[task][1]
    office.kasane.claim_task(task, "ito")
    response = post_claim(office.tanaka, task, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and html.lstrip().startswith(f'<tr id="task-{task}"')
    row = task_rows(html)[task][1]
    assert "タスク「受理判断」は ito が担当しています。" in row and "担当する" not in row
    assert '<div class="flash flash--error"' not in html  # not the error fragment
    response = post_claim(office.tanaka, task)  # without JavaScript: back, with the message
    _, html = page_of(office.tanaka, response.headers["Location"])
    assert response.status_code == 303 and "タスク「受理判断」は ito が担当しています。" in html
    response = post_claim(office.tanaka, task, "release", headers=HTMX)
    assert response.status_code == 409 and "ito が担当しています" in response.get_data(as_text=True)


def test_claiming_a_completed_task_says_so_in_its_row(office):
    case_id = office.kasane.open_case("sample", "tanaka")["case_id"]
    task = office.task_of(case_id)
    office.kasane.complete_task(task, "ito", {**forms.example_values("受理判断"), "判断": "差し戻し"})
    response = post_claim(office.tanaka, task, headers=HTMX)
    html = response.get_data(as_text=True)
    assert response.status_code == 409 and "タスク「受理判断」は既に完了しています。" in text_of(html)
    assert f'<tr id="task-{task}" class="task-row task-row--gone">' in html


def test_claims_need_the_token_a_user_and_a_task(office, client):
    task = office.task_of(office.kasane.open_case("sample", "tanaka")["case_id"])
    response = office.tanaka.post(f"/tasks/{task}/claim")
    assert response.status_code == 400 and "送信を受け付けられませんでした" in response.get_data(as_text=True)
    response = client.get("/")
    assert response.status_code == 302 and "/login?next=/" in response.headers["Location"]
    response = post_claim(office.tanaka, "no-such-task")
    assert response.status_code == 404 and "見つかりません" in response.get_data(as_text=True)
    assert office.kasane.list_tasks(actor="tanaka")[0]["claimed_by"] is None


def test_the_header_counts_my_roles_open_tasks_on_every_page(office):
    for _ in range(2):
        office.kasane.open_case("sample", "tanaka")
    assert inbox_count(page_of(office.tanaka, "/cases")[1]) == "2"
    assert inbox_count(page_of(office.tanaka, "/no-such-page")[1]) == "2"  # the 404 page too
    assert inbox_count(page_of(office.yamada)[1]) == "0"
    assert inbox_count(page_of(office.sato)[1]) == "0"


def test_the_header_links_to_the_lists_the_new_consultation_and_for_managers_the_pathways(office, app, _password_hash):
    _, html = page_of(office.tanaka, "/cases")
    nav = html[html.index('<nav class="site-header__nav"'):html.index("</nav>")]
    assert re.search(r'href="/">担当タスク', nav) and 'href="/cases" aria-current="page">ケース検索' in nav
    assert 'href="/cases/new">新規相談' in nav and "パスウェイ管理" not in nav
    kato = sign_in_as(app, _password_hash, "kato", ["管理者"], "デモ市")
    _, html = page_of(kato)
    assert 'href="/pathways">パスウェイ管理' in html and task_rows(html) == {}
    assert inbox_count(html) == "0"
