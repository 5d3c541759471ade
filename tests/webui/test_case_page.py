"""The case page and what opens from it, on the real app and engine: cases driven through
the engine API, pages read as each kind of user sees them."""
from __future__ import annotations

import re

import pytest

from engine import clock, incidents
from engine.errors import KasaneError
from tests.conftest import MODELS
from tests.webui import casework
from tests.webui.casework import COORD, DAY, INTAKE
from tests.webui.conftest import add_user_fast
from tests.webui.htmlform import Page, csrf_token
from webui.auth import fingerprint

PERSON = "重 花子"  # 本人 in the forms' examples
# name: (roles, agency). yamada received the consultations, tanaka coordinates them
# (福祉まるごと相談室, the kind they are referred to), ueda works at an agency with no part
# in them, mori at a partner a consent may name, suzuki at the outreach provider.
PEOPLE = {
    "yamada": ([INTAKE], "デモ市"),
    "tanaka": ([COORD], "福祉まるごと相談室"),
    "ueda": ([INTAKE], "よその地域包括"),
    "mori": ([COORD], "協力相談支援機関"),
    "suzuki": (["アウトリーチ支援員"], "まちのアウトリーチ"),
}


class Office:
    """The engine, and the one test client signed in as whoever a step needs."""

    def __init__(self, kasane, client, password_hash):
        self.kasane = kasane
        self.client = client
        self.password_hash = password_hash

    def as_(self, name):
        with self.client.session_transaction() as session:
            session["_user_id"] = f"{name}|{fingerprint(self.password_hash)}"
            session["_fresh"] = True
        return self.client

    def page(self, name, path, status=200):
        response = self.as_(name).get(path)
        assert response.status_code == status, response.get_data(as_text=True)[:3000]
        return response.get_data(as_text=True)

    def post(self, name, path, data, form_page=None):
        client = self.as_(name)
        token = csrf_token(client.get(form_page or path).get_data(as_text=True))
        return client.post(path, data={**data, "csrf_token": token})


@pytest.fixture
def office(app, client, _password_hash):
    clock.set_now(DAY)
    kasane = app.extensions["kasane"]
    casework.add_agencies(kasane)
    for name, (roles, agency) in PEOPLE.items():
        add_user_fast(kasane, name, roles, agency, _password_hash)
    return Office(kasane, client, _password_hash)


def text_of(html: str, element_id: str) -> str:
    """The text inside the element with this id (tags dropped, spaces collapsed)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(2)).split())


def links(html: str, element_id: str) -> list[tuple[str, str]]:
    """(href, text) of the links inside the element with this id."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return [(href, " ".join(re.sub(r"<[^>]+>", "", text).split()))
            for href, text in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', match.group(2), re.S)]


def record_id(view: dict, name: str) -> int:
    return next(r["record_id"] for r in view["records"] if r["name"] == name)


# --- who sees what ------------------------------------------------------------------------

def test_the_receiving_worker_sees_the_whole_case(office):
    case = casework.referred(office.kasane, "yamada")
    html = office.page("yamada", f"/cases/{case['case_id']}")
    assert f"<h1>ケース {case['case_id']}　{PERSON}</h1>" in html
    facts = text_of(html, "main")
    for fact in ("本人 重 花子（かさね はなこ）", "段階 多機関協働", "状態 進行中", "パスウェイ jusou（第1版）"):
        assert fact in facts
    household = text_of(html, "household")
    assert "重 花子 かさね はなこ 本人 1943年5月20日" in household and "同意なし" in household
    [task] = case["tasks"]
    assert links(html, "open-tasks") == [(f"/tasks/{task['task_id']}", "受理判断")]
    view = office.kasane.show_case(case["case_id"], actor="yamada")
    intake = record_id(view, "相談受付")
    assert links(html, "timeline") == [(f"/cases/{case['case_id']}/records/{intake}", "相談受付")]
    assert "2025年4月7日 09:00 yamada 相談受付 （タスク）" in text_of(html, "timeline")
    assert 'id="case-diagram"' in html and 'data-testid="partial-view"' not in html


def test_a_worker_at_an_unrelated_agency_sees_nothing_of_the_case(office):
    case = casework.referred(office.kasane, "yamada")
    number = case["case_id"]
    intake = record_id(office.kasane.show_case(number, actor="yamada"), "相談受付")
    for path in (f"/cases/{number}", f"/cases/{number}/records/{intake}", f"/cases/{number}/diagram",
                 f"/cases/{number}/events/接触記録"):
        html = office.page("ueda", path, status=404)
        assert "ページが見つかりません" in html
        for secret in (PERSON, "かさね", "多機関協働", "受理判断", "jusou"):
            assert secret not in html, (path, secret)


@pytest.mark.parametrize("typed", ["１", "0x1", "1.0", "99"])
def test_an_id_that_is_no_case_is_not_found(office, typed):
    casework.referred(office.kasane, "yamada")
    html = office.page("yamada", f"/cases/{typed}", status=404)
    assert PERSON not in html


def test_a_consent_shows_only_its_member_and_its_scope(office):
    case = casework.consented(office.kasane, "yamada", "tanaka",
                              共有先=["協力相談支援機関"], 情報範囲=["基本情報"])
    number = case["case_id"]
    html = office.page("mori", f"/cases/{number}")
    assert "情報共有同意書で共有された世帯員と情報範囲だけを表示しています。" in html
    assert PERSON in text_of(html, "household")
    assert "有効" in text_of(html, "household") and "協力相談支援機関" in text_of(html, "household")
    assert 'id="case-diagram"' not in html and 'id="open-tasks"' not in html
    assert "今記録できるケースイベントはありません。" in html
    view = office.kasane.show_case(number, actor="mori")
    intake = record_id(view, "相談受付")
    record = office.page("mori", f"/cases/{number}/records/{intake}")
    assert "あわら市本町1-2-3" in record  # 住所: 基本情報
    assert "母の物忘れが進み" not in record and "相談の概要" not in record  # 支援経過
    full = office.page("tanaka", f"/cases/{number}/records/{intake}")
    assert "母の物忘れが進み" in full
    office.page("mori", f"/cases/{number}/diagram", status=403)


def test_an_assigned_task_shows_the_task_and_what_it_reads(office):
    case = casework.before_consent(office.kasane, "yamada", "tanaka")
    case = casework.complete(office.kasane, case, "支援会議記録", "tanaka")
    visit = next(t for t in case["tasks"] if t["name"] == "アウトリーチ訪問記録")
    html = office.page("suzuki", f"/cases/{case['case_id']}")
    assert "担当するタスクに必要な範囲だけを表示しています。" in html
    assert links(html, "open-tasks") == [(f"/tasks/{visit['task_id']}", "アウトリーチ訪問記録")]
    assert f"本人 {PERSON}（かさね はなこ）" in text_of(html, "main")  # the visit reads 氏名
    assert "表示できる世帯員はいません。" in html and "表示できる記録はありません。" in html
    assert "長男" not in html and 'id="case-diagram"' not in html


def test_support_meeting_minutes_open_after_the_acknowledgement(office):
    case = casework.before_consent(office.kasane, "yamada", "tanaka")
    number = case["case_id"]
    attendees = [{"氏名": "山田", "所属": "デモ市", "利用者": "yamada"},
                 {"氏名": "上田", "所属": "よその地域包括", "利用者": "ueda"}]
    casework.complete(office.kasane, case, "支援会議記録", "tanaka", 構成員=attendees,
                      検討内容="長男の生活状況の共有。")
    view = office.kasane.show_case(number, actor="tanaka")
    meeting = next(m["meeting_id"] for m in view["meetings"] if m["basis"] == "support_meeting")

    # yamada holds the case and attends, but has not acknowledged the duty yet.
    html = office.page("yamada", f"/cases/{number}")
    assert "長男の生活状況の共有。" not in html
    assert "構成員のみ閲覧できます" in text_of(html, "timeline")
    assert (f"/meetings/{meeting}", "会議の記録へ（支援会議記録）") in links(html, "timeline")
    ask = office.page("yamada", f"/meetings/{meeting}", status=403)
    assert "社会福祉法第106条の6第5項" in ask and "守秘義務を確認しました" in ask
    assert "長男の生活状況の共有。" not in ask
    done = office.post("yamada", f"/meetings/{meeting}/acknowledge", {},
                       form_page=f"/meetings/{meeting}")
    assert done.status_code == 303 and done.headers["Location"] == f"/meetings/{meeting}"
    minutes = office.page("yamada", f"/meetings/{meeting}")
    assert "長男の生活状況の共有。" in text_of(minutes, "minutes")
    assert "守秘義務の確認を記録しました。" in minutes
    html = office.page("yamada", f"/cases/{number}")
    minutes_record = record_id(view, "支援会議記録")
    assert (f"/cases/{number}/records/{minutes_record}", "支援会議記録") in links(html, "timeline")
    assert "長男の生活状況の共有。" in office.page("yamada", f"/cases/{number}/records/{minutes_record}")

    # ueda attends the meeting only: its materials after acknowledging, never the case.
    office.page("ueda", f"/meetings/{meeting}", status=403)
    office.post("ueda", f"/meetings/{meeting}/acknowledge", {}, form_page=f"/meetings/{meeting}")
    assert "長男の生活状況の共有。" in office.page("ueda", f"/meetings/{meeting}")
    refused = office.page("ueda", f"/cases/{number}", status=403)
    assert "この操作は許可されていません" in refused and "長男" not in refused
    assert PERSON not in refused


def test_a_meeting_of_a_case_one_does_not_hold_is_not_found(office):
    case = casework.before_consent(office.kasane, "yamada", "tanaka")
    casework.complete(office.kasane, case, "支援会議記録", "tanaka")
    view = office.kasane.show_case(case["case_id"], actor="tanaka")
    meeting = view["meetings"][-1]["meeting_id"]
    html = office.page("ueda", f"/meetings/{meeting}", status=404)
    assert PERSON not in html and "守秘義務を確認しました" not in html


# --- records, plans, timers -----------------------------------------------------------------

def test_a_record_opens_as_submitted_under_its_form_labels(office):
    case = casework.referred(office.kasane, "yamada")
    number = case["case_id"]
    intake = record_id(office.kasane.show_case(number, actor="tanaka"), "相談受付")
    html = office.page("tanaka", f"/cases/{number}/records/{intake}")
    assert "<h1>相談受付</h1>" in html
    text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
    for shown in ("受付日 2025年4月7日", "来談者の続柄（家族の場合） 長男",
                  "相談内容 介護、ひきこもり・不登校、税・公共料金", "対応 多機関協働",
                  "提出者 yamada", "提出日時 2025年4月7日 09:00"):
        assert shown in text
    table = re.search(r"<dt>連携シート（多機関協働へつなぐとき）</dt>(.*?)</table>", html, re.S).group(1)
    assert '<th scope="col">紹介先</th>' in table and "<td>福祉まるごと相談室</td>" in table
    assert "<td>基本情報、介護、家計</td>" in table  # 共有した情報, a multiselect in a row
    office.page("tanaka", f"/cases/{number}/records/{intake + 100}", status=404)


def test_timers_plans_and_flags_in_plain_japanese(office):
    case = casework.supporting(office.kasane, "yamada", "tanaka")
    number = case["case_id"]
    html = office.page("tanaka", f"/cases/{number}")
    timers = text_of(html, "timers")
    assert "モニタリング期日: 2025年9月12日" in timers and "連絡途絶の警告日: 2025年5月7日" in timers
    household = text_of(html, "household")
    assert "重 一郎" in household and "子" in household
    assert "第1版 プラン作成" in html and "家族の意向" not in html  # the plan, not the assessment
    # Monitoring comes due, decides 再プラン, and a second version of the plan is made.
    clock.set_now("2025-09-12T10:00:00+09:00")
    view = office.kasane.show_case(number, actor="tanaka")
    view = casework.complete(office.kasane, view, "モニタリング", "tanaka", 方向性="再プラン")
    casework.complete(office.kasane, view, "再プラン作成", "tanaka", 作成日="2025-09-12",
                      モニタリング予定日="2025-12-12")
    html = office.page("tanaka", f"/cases/{number}")
    versions = re.findall(r"<summary>(第\d版 [^（]+)", html)
    assert versions == ["第2版 再プラン作成", "第1版 プラン作成"]
    assert "モニタリング予定日（空なら自治体の既定の月数後） 2025年12月12日" in \
        " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_young_carer_and_other_flags_are_shown_on_their_member(office):
    case = casework.consented(office.kasane, "yamada", "tanaka")
    members = [{"氏名": PERSON, "続柄": "本人", "要介護度": "要介護2"},
               {"氏名": "重 次郎", "続柄": "孫", "年齢": 15, "ヤングケアラー": True},
               {"氏名": "重 一郎", "続柄": "子", "障害手帳": "精神"}]
    casework.complete(office.kasane, case, "アセスメント", "tanaka", 世帯員=members)
    household = text_of(office.page("tanaka", f"/cases/{case['case_id']}"), "household")
    assert "要介護度: 要介護2" in household
    assert re.search(r"重 次郎 孫 — ヤングケアラー", household)
    assert "障害手帳: 精神" in household


def test_an_incident_is_shown_in_japanese(office):
    case = casework.referred(office.kasane, "yamada")
    with office.kasane.transaction() as session:
        incidents.record(session, case["case_id"],
                         KasaneError("ゲートウェイ「判断?」の条件を評価できません。"), backoff=False)
    html = office.page("yamada", f"/cases/{case['case_id']}")
    assert "処理の問題" in html and "ゲートウェイ「判断?」の条件を評価できません。" in html


def test_overdue_tasks_say_so_in_words(office):
    case = casework.supporting(office.kasane, "yamada", "tanaka")
    clock.set_now("2025-10-01")  # the monitoring task (due on its date) is now late
    html = office.page("tanaka", f"/cases/{case['case_id']}")
    assert "期限: 2025年9月12日（期限切れ）" in text_of(html, "open-tasks")


# --- case events ----------------------------------------------------------------------------

def event_buttons(html: str) -> list[str]:
    return [text for _, text in links(html, "case-events")]


def test_event_buttons_are_exactly_the_events_the_pathway_waits_for(office):
    early = casework.before_consent(office.kasane, "yamada", "tanaka")
    html = office.page("tanaka", f"/cases/{early['case_id']}")
    assert event_buttons(html) == ["接触記録を記録"]
    later = casework.supporting(office.kasane, "yamada", "tanaka")
    html = office.page("tanaka", f"/cases/{later['case_id']}")
    assert event_buttons(html) == ["同意撤回を記録", "接触記録を記録", "状況変化を記録"]
    assert ("/cases/%d/events/%%E7%%8A%%B6%%E6%%B3%%81%%E5%%A4%%89%%E5%%8C%%96" % later["case_id"],
            "状況変化を記録") in links(html, "case-events")
    # An event the case does not wait for has no page: back to the case, saying why.
    response = office.as_("tanaka").get(f"/cases/{early['case_id']}/events/再開連絡")
    assert response.status_code == 303
    assert "今「再開連絡」を記録できません" in office.page("tanaka", f"/cases/{early['case_id']}")


def test_an_event_posted_with_bad_data_keeps_the_input_and_a_good_one_is_recorded(office):
    case = casework.before_consent(office.kasane, "yamada", "tanaka")
    path = f"/cases/{case['case_id']}/events/接触記録"
    form = Page(office.page("tanaka", path))
    assert form.labels["f-日付"].startswith("日付") and form.legends["f-方法-group"].startswith("方法")
    refused = office.post("tanaka", path, {"方法": "訪問", "結果": "不在・応答なし",
                                           "メモ": "不在。連絡票を置いた。", "_action": "submit"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "日付: 必須項目です。" in html and 'id="f-日付-error"' in html
    kept = Page(html).form_values()
    assert kept["方法"] == "訪問" and kept["メモ"] == "不在。連絡票を置いた。"

    done = office.post("tanaka", path, {"日付": "2025-04-20", "方法": "訪問", "結果": "不在・応答なし",
                                        "メモ": "不在。連絡票を置いた。", "_action": "submit"})
    assert done.status_code == 303 and done.headers["Location"] == f"/cases/{case['case_id']}"
    html = office.page("tanaka", f"/cases/{case['case_id']}")
    assert "「接触記録」を記録しました。" in html
    assert links(html, "timeline")[0][1] == "接触記録"
    assert "（ケースイベント）" in text_of(html, "timeline")


def test_an_event_the_engine_refuses_shows_its_message_with_the_input_kept(office):
    case = casework.supporting(office.kasane, "yamada", "tanaka")
    path = f"/cases/{case['case_id']}/events/状況変化"
    form = office.page("tanaka", path)
    # Meanwhile 本人 withdraws consent: the case goes back to 同意前支援.
    office.kasane.send_event(case["case_id"], "同意撤回", "yamada",
                             {"日付": "2025-07-10", "理由": "本人の申し出。"})
    refused = office.as_("tanaka").post(path, data={
        "csrf_token": csrf_token(form), "日付": "2025-07-11", "内容": "祖母が入院した。",
        "_action": "submit"})
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert "今は「状況変化」を記録できません。" in html and "今記録できるイベント: 接触記録。" in html
    assert Page(html).form_values()["内容"] == "祖母が入院した。"
    assert "段階 同意前支援" in text_of(html, "main")


def test_an_event_without_a_form_is_recorded_with_one_button(office):
    office.kasane.deploy([MODELS / "date_timer.bpmn"])
    add_user_fast(office.kasane, "ito", ["担当"], "デモ市", office.password_hash)
    case = office.kasane.open_case("date_timer", "ito")
    case = casework.complete(office.kasane, case, "予定を決める", "ito")
    html = office.page("ito", f"/cases/{case['case_id']}")
    assert event_buttons(html) == ["連絡を記録"]
    assert "T-monitor: 2025年9月12日" in text_of(html, "timers")
    page = office.page("ito", f"/cases/{case['case_id']}/events/連絡")
    assert "このイベントには入力項目がありません。" in page
    done = office.post("ito", f"/cases/{case['case_id']}/events/連絡", {})
    assert done.status_code == 303
    assert office.kasane.show_case(case["case_id"], actor="ito")["stage"] == "モニタリング"


# --- the live diagram's state -----------------------------------------------------------------

def test_the_diagram_state_marks_the_current_task_and_links_the_finished_ones(office):
    case = casework.referred(office.kasane, "yamada")
    number = case["case_id"]
    response = office.as_("tanaka").get(f"/cases/{number}/diagram")
    assert response.status_code == 200 and response.mimetype == "application/json"
    state = response.get_json()
    assert [d["file"] for d in state["diagrams"]] == ["jusou.bpmn"]
    assert state["diagrams"][0]["name"] == "重層的支援"
    assert 'id="acceptance"' in state["diagrams"][0]["xml"]
    [task] = case["tasks"]
    assert state["current"] == [{"element": "acceptance", "name": "受理判断",
                                 "url": f"/tasks/{task['task_id']}", "due": None}]
    assert "intake" in state["done"] and "acceptance" not in state["done"]
    intake = record_id(office.kasane.show_case(number, actor="tanaka"), "相談受付")
    assert state["records"] == {"intake": f"/cases/{number}/records/{intake}"}


def test_the_diagram_state_has_timers_waiting_events_and_called_processes(office):
    case = casework.supporting(office.kasane, "yamada", "tanaka")
    state = office.as_("tanaka").get(f"/cases/{case['case_id']}/diagram").get_json()
    assert [(d["file"], d["name"]) for d in state["diagrams"]] == [
        ("jusou.bpmn", "重層的支援"), ("sanka_shien.bpmn", "参加支援")]
    assert {"element": "t_monitor", "label": "モニタリング期日: 2025年9月12日"} in state["timers"]
    assert "consent_withdrawn" in state["waiting"]
    assert [t["name"] for t in state["current"]] == ["参加支援マッチング"]
