"""Scenario A (the 8050 household, features/scenario_a.feature) from intake to 終結 and the
follow-up, in Debian's Chromium alone: four caseworkers, each in their own browser, find
their work through the pages (the inbox, the case search, the case page) and fill every
form as a person would. The clock moves as the scenario's dates do; the モニタリング and
フォローアップ確認 tasks appear on their due dates, not a day before."""
from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

import forms
from engine import clock
from tests.webui.conftest import ARTIFACTS
from tests.webui.test_browser import sign_in

pytestmark = pytest.mark.browser

# The role → the kind of agency its worker is at (as in the behaviour specs).
STAFF = {
    "hokatsu": ("包括化推進員", "地域包括支援センター"),
    "marugoto": ("相談支援コーディネーター", "福祉まるごと相談室"),
    "outreach": ("アウトリーチ支援員", "アウトリーチ事業者"),
    "sanka": ("参加支援コーディネーター", "参加支援事業者"),
}


def fill(page, form_key: str, values: dict) -> None:
    """Type ``values`` into the form of ``form_key`` as a person would: text into boxes,
    a choice by its radio button, select or tick box, a date into the date field."""
    specs = {spec["name"]: spec for spec in forms.field_specs(form_key)}
    for name, value in values.items():
        spec = specs[name]
        widget = spec["widget"]
        if widget in ("multiselect", "agencies"):
            group = page.get_by_role("group", name=re.compile(re.escape(spec["label"])))
            for choice in value:
                group.get_by_label(choice, exact=True).check()
        elif widget == "checkbox":
            page.locator(f'input[type=checkbox][name="{name}"]').set_checked(bool(value))
        elif widget == "select":
            radios = page.locator(f'input[type=radio][name="{name}"]')
            if radios.count():
                radios.and_(page.locator(f'[value="{value}"]')).check()
            else:
                page.locator(f'select[name="{name}"]').select_option(value)
        else:
            page.get_by_label(spec["label"], exact=False).and_(
                page.locator(f'[name="{name}"]')).fill(str(value))


def open_case(page, case_id: int) -> None:
    page.goto(f"/cases/{case_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"ケース {case_id}")


def complete(page, case_id: int, task: str, values: dict) -> None:
    """From the case page: open the task, fill its form, complete it."""
    open_case(page, case_id)
    page.locator("#open-tasks").get_by_role("link", name=task, exact=True).click()
    _fill_and_complete(page, task, values)
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))


def inbox_row(page, case_id: int, task: str):
    """The task of this case in the user's inbox, newest first (the test server is shared)."""
    page.goto("/")
    page.get_by_label("並び順").select_option("newest")
    page.get_by_role("button", name="絞り込む").click()
    expect(page).to_have_url(re.compile(r"order=newest"))  # htmx pushes it after the swap
    return page.get_by_role("row").filter(
        has=page.get_by_role("link", name=f"ケース {case_id}", exact=True)).filter(
        has=page.get_by_role("link", name=task, exact=True))


def complete_from_inbox(page, case_id: int, task: str, values: dict) -> None:
    """For a worker who sees the case only through the task assigned to their agency: the
    inbox leads to it, and after completing it they are back at the inbox."""
    inbox_row(page, case_id, task).get_by_role("link", name=task, exact=True).click()
    _fill_and_complete(page, task, values)
    expect(page.get_by_role("heading", level=1)).to_have_text("担当タスク")


def _fill_and_complete(page, task: str, values: dict) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(task)
    fill(page, _form_of(page), values)
    page.get_by_role("button", name="完了する").click()
    expect(page.locator("#flash")).to_contain_text(f"『{task}』を完了しました。")


def _form_of(page) -> str:
    return page.locator("#task-form").get_attribute("data-form")


def open_tasks(page, case_id: int) -> list[str]:
    open_case(page, case_id)
    if page.locator("#open-tasks").count() == 0:
        return []
    return page.locator("#open-tasks > li > a").all_inner_texts()


def stage(page) -> str:
    return page.get_by_test_id("case-stage").inner_text().strip()


@pytest.fixture
def staff(browser, live_server):
    """One browser (context) per caseworker, signed in, at agencies of this test's own."""
    suffix = secrets.token_hex(3)
    windows, contexts = {}, []
    windows["agencies"] = {key: f"{kind}-{suffix}" for key, (_, kind) in STAFF.items()}
    for key, (role, kind) in STAFF.items():
        agency = f"{kind}-{suffix}"
        live_server.kasane.add_agency(agency, kind)
        context = browser.new_context(base_url=live_server.url, locale="ja-JP")
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        sign_in(page, live_server.add_user(key, (role,), agency))
        windows[key] = page
    yield windows
    ARTIFACTS.mkdir(exist_ok=True)
    for key in STAFF:
        windows[key].screenshot(path=str(ARTIFACTS / f"scenario_a_{key}.png"), full_page=True)
    for context in contexts:
        context.close()


def test_scenario_a_from_intake_to_closure_in_the_browser(staff):
    hokatsu, marugoto, outreach, sanka = (staff[k] for k in STAFF)
    household = f"重 花子{secrets.token_hex(2)}"  # found again by the search below

    # 04-07 The 民生委員 tells the 地域包括: a new consultation, handed to 多機関協働.
    clock.set_now("2025-04-07")
    hokatsu.get_by_role("link", name="新規相談").click()
    fill(hokatsu, "相談受付", {
        "受付日": "2025-04-07", "受付者": "地域包括支援センター 山田", "受付分野": "介護",
        "把握経路": "民生委員", "氏名": household, "ふりがな": "かさね はなこ",
        "相談内容": ["介護", "ひきこもり・不登校", "税・公共料金"], "対応": "多機関協働"})
    hokatsu.get_by_role("button", name="受け付ける").click()
    expect(hokatsu).to_have_url(re.compile(r"/cases/\d+$"))
    case_id = int(re.search(r"/cases/(\d+)$", hokatsu.url).group(1))
    expect(hokatsu.get_by_test_id("case-stage")).to_have_text("多機関協働")

    # 04-18 The coordinator finds the case by the person's name and accepts it.
    clock.set_now("2025-04-18")
    marugoto.get_by_role("link", name="ケース検索").click()
    marugoto.get_by_label("氏名またはふりがな").fill(household)
    marugoto.get_by_role("button", name="検索").click()
    marugoto.get_by_role("link", name=household).first.click()
    expect(marugoto).to_have_url(re.compile(rf"/cases/{case_id}$"))
    complete(marugoto, case_id, "受理判断", {"判断日": "2025-04-18", "WG会議": True, "判断": "受理"})
    complete(marugoto, case_id, "同意確認", {"対象者": "重 一郎", "同意": "なし"})
    assert stage(marugoto) == "同意前支援"

    # 04-25 支援会議 agrees アウトリーチ; the next meeting is due 05-23.
    clock.set_now("2025-04-25")
    complete(marugoto, case_id, "支援会議記録", {
        "開催日": "2025-04-25", "合意事項": ["見守り", "アウトリーチ"], "次回予定日": "2025-05-23"})
    expect(marugoto.locator("#open-tasks")).to_contain_text("期限: 2025年5月23日")

    # Visits: 05-02 (a letter), 05-16 (through the door), 05-30 (face to face), 06-06 consent.
    for day, values in (
            ("2025-05-02", {"訪問方法": "手紙・連絡票", "結果": "接触できず", "次回訪問日": "2025-05-16"}),
            ("2025-05-16", {"結果": "面談"}),
            ("2025-05-30", {"結果": "面談", "次回訪問日": "2025-06-06"}),
            ("2025-06-06", {"結果": "同意取得", "対象者": "重 一郎", "同意者": "本人",
                            "共有先": [staff["agencies"]["marugoto"], staff["agencies"]["hokatsu"]],
                            "情報範囲": ["基本情報", "支援経過"]})):
        clock.set_now(day)
        complete_from_inbox(outreach, case_id, "アウトリーチ訪問記録", {"訪問日": day, **values})
    # Their visits done, the case is no longer theirs to see.
    outreach.goto(f"/cases/{case_id}")
    expect(outreach.get_by_role("heading", level=1)).to_have_text("ページが見つかりません")
    expect(outreach.locator("main")).not_to_contain_text(household)
    open_case(marugoto, case_id)
    assert stage(marugoto) == "アセスメント"
    son = marugoto.get_by_role("row").filter(has_text="重 一郎")
    expect(son).to_contain_text("有効")
    expect(son).to_contain_text(staff["agencies"]["marugoto"])

    # Assessment, plan and the ① meeting; 参加支援 starts.
    clock.set_now("2025-06-09")
    complete(marugoto, case_id, "アセスメント", {"実施日": "2025-06-09"})
    clock.set_now("2025-06-11")
    complete(marugoto, case_id, "プラン作成", {
        "作成日": "2025-06-11", "モニタリング予定日": "2025-09-12", "参加支援利用": True})
    clock.set_now("2025-06-13")
    complete(marugoto, case_id, "プラン協議", {"会議日": "2025-06-13", "結果": "適切"})
    assert stage(marugoto) == "支援実施"
    expect(marugoto.locator("#timers")).to_contain_text("2025年9月12日")

    clock.set_now("2025-07-01")
    complete_from_inbox(sanka, case_id, "参加支援マッチング", {"受け入れ先": "みどり農園", "開始日": "2025-07-01"})
    for day in ("2025-07-15", "2025-08-01"):
        clock.set_now(day)
        complete_from_inbox(sanka, case_id, "参加支援フォローアップ", {"確認日": day, "状況": "定着"})

    # 09-12 The monitoring date: the task appears on the day, not the day before.
    clock.set_now("2025-09-11")
    assert "モニタリング" not in open_tasks(marugoto, case_id)
    clock.set_now("2025-09-12")
    assert "モニタリング" in open_tasks(marugoto, case_id)
    assert stage(marugoto) == "モニタリング"
    complete(marugoto, case_id, "モニタリング", {
        "実施日": "2025-09-12", "関係機関の報告": "要介護1の認定。デイサービス利用中。滞納は解消。",
        "方向性": "終結"})
    assert stage(marugoto) == "終結協議"

    # 10-03 The ③ meeting closes the case; the follow-up is due 2026-01-09.
    clock.set_now("2025-10-03")
    complete(marugoto, case_id, "終結協議", {
        "会議日": "2025-10-03", "本人意向確認": True, "判断": "終結",
        "終結理由": "役割分担合意・主担当へ移行", "フォローアップ要否": "要",
        "フォローアップ予定日": "2026-01-09"})
    assert stage(marugoto) == "終結"
    clock.set_now("2026-01-08")
    assert "フォローアップ確認" not in open_tasks(marugoto, case_id)
    clock.set_now("2026-01-09")
    assert "フォローアップ確認" in open_tasks(marugoto, case_id)
    complete(marugoto, case_id, "フォローアップ確認", {"確認日": "2026-01-09", "結果": "問題なし"})
    open_case(marugoto, case_id)
    expect(marugoto.get_by_test_id("case-stage")).to_have_text(re.compile("終結|フォローアップ"))
    # The timeline keeps every form as it was submitted.
    timeline = marugoto.locator("#timeline")
    for task in ("相談受付", "受理判断", "支援会議記録", "アウトリーチ訪問記録", "プラン協議",
                 "モニタリング", "終結協議", "フォローアップ確認"):
        expect(timeline).to_contain_text(task)
