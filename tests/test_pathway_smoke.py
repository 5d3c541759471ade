"""Smoke tests of the 重層的支援 pathway (workflows/) through the real engine.

Domain §6 scenario A (consent gating → 終結 → follow-up), scenario C (no contact → 中断 →
reopen) and a 再プラン path. Behaviour specs in Gherkin live in features/; this file only
checks that the model runs end to end.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import forms
from engine import clock
from engine.errors import Conflict, InvalidInput

WORKFLOWS = Path(__file__).resolve().parent.parent / "workflows"

INTAKE = "包括化推進員"
COORD = "相談支援コーディネーター"
PARTICIPATION = "参加支援コーディネーター"
OUTREACH = "アウトリーチ支援員"
USERS = {INTAKE: "yamada", COORD: "tanaka", PARTICIPATION: "takahashi", OUTREACH: "suzuki"}


class Case:
    """One case of the jusou pathway, driven day by day."""

    def __init__(self, kasane, day: str):
        self.k = kasane
        clock.set_now(day)
        self.case_id = kasane.open_case("jusou", USERS[INTAKE])["case_id"]

    def on(self, day: str) -> dict:
        """Move the clock to 09:00 of that day and fire what is due."""
        clock.set_now(day)
        self.k.run_timers()
        return self.show()

    def show(self) -> dict:
        return self.k.show_case(self.case_id)

    def tasks(self) -> list[str]:
        return sorted(t["name"] for t in self.k.list_tasks(case_id=self.case_id))

    def timers(self) -> dict[str, str]:
        return {t["name"]: t["due"][:10] for t in self.show()["timers"]}

    def task(self, name: str) -> dict:
        found = [t for t in self.k.list_tasks(case_id=self.case_id) if t["name"] == name]
        assert found, f"no open task {name}; open: {self.tasks()}"
        return found[0]

    def do(self, name: str, **values) -> dict:
        task = self.task(name)
        data = forms.example_values(task["form"]) if task["form"] else {}
        data.update(values)
        return self.k.complete_task(task["task_id"], USERS[task["role"]], data)

    def event(self, message: str, **values) -> dict:
        data = forms.example_values(message)
        data.update(values)
        return self.k.send_event(self.case_id, message, USERS[COORD], data)


@pytest.fixture
def jusou(kasane):
    clock.set_now("2025-04-01")
    deployed = {d["pathway"] for d in kasane.deploy([WORKFLOWS])}
    assert {"jusou", "sanka_shien", "outreach"} <= deployed
    for role, name in USERS.items():
        kasane.add_user(name, [role])
    return kasane


def stage(summary) -> tuple[str, str]:
    return summary["stage"], summary["status"]


def test_lint_is_clean(kasane):
    linted = kasane.lint([WORKFLOWS])
    assert (linted["ok"], linted["problems"]) == (True, [])


def to_consent_gate(case: Case, *, consent: str) -> dict:
    """相談受付 (多機関協働) → 受理判断 (受理) → 同意確認."""
    assert stage(case.show()) == ("受け止め", "open")
    case.do("相談受付", 対応="多機関協働")
    case.on("2025-04-18")
    assert stage(case.show()) == ("多機関協働", "open")
    case.do("受理判断", 判断="受理")
    return case.do("同意確認", 同意=consent)


def test_scenario_a_consent_gating_closure_and_follow_up(jusou):
    case = Case(jusou, "2025-04-07")
    summary = to_consent_gate(case, consent="なし")
    assert stage(summary) == ("同意前支援", "open")
    case.on("2025-04-25")
    summary = case.do("支援会議記録", 合意事項=["見守り", "アウトリーチ"], 次回予定日="2025-05-23")
    assert case.tasks() == ["アウトリーチ訪問記録", "支援会議記録"]  # the next meeting, due 05-23
    assert case.task("支援会議記録")["due"][:10] == "2025-05-23"
    assert stage(summary) == ("同意前支援", "open")
    # visits on 05-02 (letter), 05-16 (through the door), 05-30 (face to face)
    case.on("2025-05-02")
    case.do("アウトリーチ訪問記録", 訪問日="2025-05-02", 訪問方法="手紙・連絡票", 結果="接触できず",
            次回訪問日="2025-05-16")
    assert case.tasks() == ["支援会議記録"] and case.timers() == {"次の訪問日": "2025-05-16"}
    case.on("2025-05-16")
    case.do("アウトリーチ訪問記録", 訪問日="2025-05-16", 結果="面談", 次回訪問日=None)
    assert case.timers() == {"次の訪問日": "2025-05-30"}  # the 14-day default
    case.on("2025-05-30")
    case.do("アウトリーチ訪問記録", 訪問日="2025-05-30", 結果="面談", 次回訪問日="2025-06-06")
    case.on("2025-06-06")
    summary = case.do("アウトリーチ訪問記録", 訪問日="2025-06-06", 結果="同意取得", 次回訪問日=None)
    assert stage(summary) == ("アセスメント", "open") and case.tasks() == ["アセスメント"]
    assert "contact_state" not in summary["data"] and summary["data"]["結果"] == "同意取得"
    case.on("2025-06-09")
    case.do("アセスメント")
    case.on("2025-06-11")
    assert stage(case.do("プラン作成", モニタリング予定日="2025-09-12", 参加支援利用=True)) == \
        ("プラン協議", "open")
    case.on("2025-06-13")
    summary = case.do("プラン協議", 結果="適切")
    assert stage(summary) == ("支援実施", "open")
    assert case.timers() == {"モニタリング期日": "2025-09-12", "連絡途絶の警告日": "2025-07-13"}
    assert {t["element"] for t in summary["timers"]} == {"t_monitor", "t_nocontact"}
    # the model's working variables stay out of what users read (process property
    # internalVariables); what caseworkers entered and the plan version stay
    hidden = {"contact_state", "participation_running", "outreach_running", "次回モニタリング日",
              "参加支援開始", "無接触警告日", "既定モニタリング月数", "visits_running"}
    assert not hidden & set(summary["data"])
    assert summary["data"]["プラン版"] == 1 and summary["data"]["結果"] == "適切"
    assert case.tasks() == ["参加支援マッチング"]
    # 参加支援: matched on 07-01, checks on 07-15 and 08-01 (+2 weeks, +1 month)
    case.on("2025-07-01")
    assert stage(case.do("参加支援マッチング")) == ("支援実施", "open")
    assert case.timers()["参加支援の確認日"] == "2025-07-15"
    case.on("2025-07-13")  # no 接触記録 since the plan was agreed on 06-13
    assert "連絡途絶の確認" in case.tasks()
    assert stage(case.do("連絡途絶の確認", 確認日="2025-07-13")) == ("支援実施", "open")
    case.on("2025-07-15")
    case.do("参加支援フォローアップ", 確認日="2025-07-15", 状況="定着")
    assert case.timers()["参加支援の確認日"] == "2025-08-01"
    case.on("2025-08-01")
    case.do("参加支援フォローアップ", 確認日="2025-08-01", 状況="定着")
    assert case.timers()["参加支援の確認日"] == "2025-10-01"
    # the monitoring task appears on 09-12
    case.on("2025-09-11")
    assert "モニタリング" not in case.tasks()
    summary = case.on("2025-09-12")
    assert "モニタリング" in case.tasks() and stage(summary) == ("モニタリング", "open")
    assert case.task("モニタリング")["due"][:10] == "2025-09-12"
    case.do("モニタリング", 実施日="2025-09-12", 方向性="終結", 次回予定日=None)
    case.on("2025-10-03")
    summary = case.do("終結協議", 判断="終結", フォローアップ予定日="2026-01-09")
    assert stage(summary) == ("終結", "closed")
    assert case.timers() == {"フォローアップ期日": "2026-01-09"}  # モニタリング期日, 参加支援の確認日, 連絡途絶の警告日 gone
    assert case.tasks() == []
    # the follow-up task appears on 2026-01-09
    case.on("2026-01-08")
    assert case.tasks() == []
    summary = case.on("2026-01-09")
    assert case.tasks() == ["フォローアップ確認"] and stage(summary) == ("フォローアップ", "closed")
    summary = case.do("フォローアップ確認", 確認日="2026-01-09", 結果="問題なし")
    assert stage(summary) == ("終結", "closed")
    assert case.timers() == {"フォローアップ期日": "2026-04-09"}  # checks every 3 months, twice
    case.on("2026-04-09")
    summary = case.do("フォローアップ確認", 確認日="2026-04-09", 結果="問題なし")
    assert stage(summary) == ("終結", "closed") and summary["timers"] == []


def contact(case: Case, day: str, method: str, result: str) -> dict:
    case.on(day)
    return case.event("接触記録", 日付=day, 方法=method, 結果=result)


def test_scenario_c_no_contact_suspension_and_reopening(jusou):
    case = Case(jusou, "2025-06-02")
    case.do("相談受付", 対応="多機関協働", 同意="なし")
    case.on("2025-06-05")
    case.do("受理判断", 判断="受理")
    case.do("同意確認", 同意="なし")
    case.on("2025-06-10")
    case.do("支援会議記録", 合意事項=["アウトリーチ"], 次回予定日=None)
    assert case.task("支援会議記録")["due"] is None  # a further meeting, with no date set
    for day in ("2025-06-24", "2025-07-08"):
        case.on(day)
        case.do("アウトリーチ訪問記録", 訪問日=day, 結果="接触できず", 次回訪問日=None)
    assert case.timers() == {"次の訪問日": "2025-07-22"}
    contact(case, "2025-07-22", "訪問", "接触")  # accepted while in 同意前支援
    case.do("アウトリーチ訪問記録", 訪問日="2025-07-22", 結果="面談", 次回訪問日="2025-08-05")
    case.on("2025-08-05")
    case.do("アウトリーチ訪問記録", 訪問日="2025-08-05", 結果="同意取得")
    with pytest.raises(Conflict):  # not between consent and the agreed plan
        case.event("接触記録", 日付="2025-08-05", 方法="訪問", 結果="接触")
    case.do("アセスメント")
    case.on("2025-08-20")
    case.do("プラン作成", モニタリング予定日="2025-11-21", 参加支援利用=False)
    case.on("2025-08-22")
    case.do("プラン協議", 結果="適切")
    assert case.timers() == {"連絡途絶の警告日": "2025-09-21", "モニタリング期日": "2025-11-21"}
    contact(case, "2025-09-10", "訪問", "接触")  # the last contact
    assert case.timers()["連絡途絶の警告日"] == "2025-10-10"
    contact(case, "2025-09-24", "訪問", "不在・応答なし")  # visit and 連絡票
    contact(case, "2025-10-08", "電話", "不在・応答なし")
    assert case.timers()["連絡途絶の警告日"] == "2025-10-10"  # attempts do not move it
    # 10-09: monitoring brought forward; a 中断 proposal is refused (2 attempts, 29 days)
    case.on("2025-10-09")
    summary = case.event("状況変化", 日付="2025-10-09", 内容="2回訪問・電話したが応答がない。")
    assert stage(summary) == ("モニタリング", "open") and "モニタリング期日" not in case.timers()
    with pytest.raises(InvalidInput) as refused:
        case.do("モニタリング", 実施日="2025-10-09", 方向性="中断検討", 次回予定日=None)
    message = refused.value.message
    assert message.startswith("中断の基準を満たしていません")
    assert "最終接触から90日未満です" in message and "経過 29 日" in message
    assert "3回未満です（現在 2 回）" in message and "訪問による" not in message
    # 10-10: the 30-day warning goes to the coordinator; the monitoring task stays open
    case.on("2025-10-10")
    assert case.tasks() == ["モニタリング", "連絡途絶の確認"]
    assert stage(case.show()) == ("モニタリング", "open")
    case.do("連絡途絶の確認", 確認日="2025-10-10")
    assert "連絡途絶の警告日" not in case.timers()  # one warning per last contact
    # 10-22: third attempt; the landlord reports he moved out (消息不明) while monitoring is open
    before = case.task("モニタリング")["task_id"]
    contact(case, "2025-10-22", "訪問", "消息不明")
    # the open task stays as it is (a caseworker's open form does not go stale); the
    # criteria read the contact state when it is completed
    assert case.task("モニタリング")["task_id"] == before
    summary = case.do("モニタリング", 実施日="2025-10-22", 方向性="中断検討", 次回予定日=None)
    assert stage(summary) == ("中断協議", "open") and case.tasks() == ["中断協議"]
    case.on("2025-11-07")
    summary = case.do("中断協議", 判断="中断")
    assert stage(summary) == ("中断", "suspended")
    assert summary["timers"] == [] and case.tasks() == []  # no モニタリング期日, no 連絡途絶の警告日
    with pytest.raises(Conflict):
        case.event("接触記録", 日付="2025-11-10", 方法="電話", 結果="不在・応答なし")
    # 2026-01-20: he calls the CSW → re-assessment on the same case, history kept
    case.on("2026-01-20")
    summary = case.event("再開連絡", 日付="2026-01-20")
    assert stage(summary) == ("アセスメント", "open") and case.tasks() == ["アセスメント"]
    history = case.show()["history"]
    assert summary["case_id"] == case.case_id
    assert [h["name"] for h in history if h["kind"] == "task_completed"][:2] == ["相談受付", "受理判断"]


def test_replan_after_a_change_of_circumstances(jusou):
    case = Case(jusou, "2025-05-12")
    case.do("相談受付", 対応="多機関協働")
    case.on("2025-05-21")
    case.do("受理判断", 判断="受理")
    assert stage(case.do("同意確認", 同意="あり")) == ("アセスメント", "open")
    case.do("アセスメント")
    case.on("2025-06-02")
    case.do("プラン作成", モニタリング予定日="2025-09-04", 参加支援利用=False, アウトリーチ利用=False)
    case.on("2025-06-04")
    summary = case.do("プラン協議", 結果="修正")
    assert stage(summary) == ("プラン策定", "open") and case.tasks() == ["プラン作成"]
    case.do("プラン作成", モニタリング予定日="2025-09-04", 参加支援利用=False, アウトリーチ利用=False)
    assert case.do("プラン協議", 結果="適切")["data"]["プラン版"] == 1
    assert case.timers()["モニタリング期日"] == "2025-09-04" and case.tasks() == []
    case.on("2025-07-04")  # 30 days without a recorded contact
    case.do("連絡途絶の確認", 確認日="2025-07-04")
    # 08-20: the grandmother is hospitalised → monitoring before the due date
    case.on("2025-08-20")
    summary = case.event("状況変化", 日付="2025-08-20", 内容="祖母が骨折で入院した。")
    assert stage(summary) == ("モニタリング", "open") and "モニタリング期日" not in case.timers()
    with pytest.raises(Conflict) as refused:  # 状況変化 only while 支援実施
        case.event("状況変化", 日付="2025-08-21", 内容="重ねて")
    # the refusal says where the case is and what can be recorded now
    assert refused.value.message == (f"ケース {case.case_id} は段階「モニタリング」にあり、今は「状況変化」を"
                                     "記録できません。今記録できるイベント: 同意撤回、接触記録。")
    summary = case.do("モニタリング", 実施日="2025-08-20", 方向性="再プラン", 次回予定日=None)
    assert stage(summary) == ("再プラン", "open") and case.tasks() == ["再プラン作成"]
    case.on("2025-08-27")
    case.do("再プラン作成", モニタリング予定日="2025-12-01", 参加支援利用=True)
    assert stage(case.do("再プラン協議", 結果="修正")) == ("再プラン", "open")
    case.do("再プラン作成", モニタリング予定日="2025-12-01", 参加支援利用=True)
    case.on("2025-09-01")
    summary = case.do("再プラン協議", 結果="適切")
    assert stage(summary) == ("支援実施", "open")
    assert summary["data"]["プラン版"] == 2  # the re-plan is version 2
    assert case.timers()["モニタリング期日"] == "2025-12-01"  # the re-plan replaces the due date
    assert case.tasks() == ["参加支援マッチング"]  # 参加支援 newly in the plan
    summary = case.on("2025-12-01")
    assert stage(summary) == ("モニタリング", "open")
    case.do("モニタリング", 実施日="2025-12-01", 方向性="継続", 次回予定日="2026-03-02")
    assert case.timers()["モニタリング期日"] == "2026-03-02"
    # 終結協議 that decides to continue goes back to 支援実施 with the date still ahead
    case.on("2026-03-02")
    case.do("モニタリング", 実施日="2026-03-02", 方向性="終結", 次回予定日=None)
    summary = case.do("終結協議", 判断="継続")
    assert stage(summary) == ("支援実施", "open")
    assert case.timers()["モニタリング期日"] == "2026-06-02"  # fallback: 3 months from today


def test_consent_withdrawal_returns_to_pre_consent_support(jusou):
    case = Case(jusou, "2025-05-12")
    case.do("相談受付", 対応="多機関協働")
    case.do("受理判断", 判断="受理")
    case.do("同意確認", 同意="あり")
    case.do("アセスメント")
    case.on("2025-05-20")
    case.do("プラン作成", モニタリング予定日="2025-08-20", 参加支援利用=True, アウトリーチ利用=True)
    case.do("プラン協議", 結果="適切")
    assert case.tasks() == ["アウトリーチ訪問記録", "参加支援マッチング"]
    assert stage(case.show()) == ("支援実施", "open")  # the sub-plans do not move the stage
    matching = case.task("参加支援マッチング")["task_id"]
    case.on("2025-07-10")
    summary = case.event("同意撤回", 日付="2025-07-10")
    with pytest.raises(Conflict) as refused:
        jusou.complete_task(matching, USERS[PARTICIPATION], forms.example_values("参加支援マッチング"))
    assert refused.value.message == "タスク「参加支援マッチング」は取り消されています。"
    assert stage(summary) == ("同意前支援", "open") and case.tasks() == ["支援会議記録"]
    assert summary["timers"] == []
    # without アウトリーチ the coordinator keeps 同意確認 open until the next 支援会議
    case.do("支援会議記録", 合意事項=["見守り"], 次回予定日="2025-08-07")
    assert case.tasks() == ["同意確認"] and case.task("同意確認")["due"][:10] == "2025-08-07"
    assert stage(case.do("同意確認", 同意="なし")) == ("同意前支援", "open")
    case.do("支援会議記録", 合意事項=["見守り"])
    assert stage(case.do("同意確認", 同意="あり")) == ("アセスメント", "open")


@pytest.mark.parametrize("choice", ["自機関対応", "情報提供で終了"])
def test_intake_can_end_the_case(jusou, choice):
    case = Case(jusou, "2025-04-07")
    summary = case.do("相談受付", 対応=choice)
    assert stage(summary) == ("終結", "closed") and case.tasks() == []


def test_network_response_loops_escalates_and_resolves(jusou):
    case = Case(jusou, "2025-04-07")
    assert stage(case.do("相談受付", 対応="ネットワーク対応")) == ("ネットワーク対応", "open")
    case.do("ネットワーク対応記録", 結果="継続")
    assert case.tasks() == ["ネットワーク対応記録"]
    assert stage(case.do("ネットワーク対応記録", 結果="多機関協働へ")) == ("多機関協働", "open")
    assert stage(case.do("受理判断", 判断="差し戻し")) == ("ネットワーク対応", "open")
    assert stage(case.do("ネットワーク対応記録", 結果="解決")) == ("終結", "closed")


def agreed_plan(case: Case, monitoring_day: str) -> None:
    case.do("相談受付", 対応="多機関協働")
    case.do("受理判断", 判断="受理")
    case.do("同意確認", 同意="あり")
    case.do("アセスメント")
    case.do("プラン作成", モニタリング予定日=monitoring_day, 参加支援利用=False)
    case.do("プラン協議", 結果="適切")


def test_suspension_needs_90_days_and_3_attempts_with_a_home_visit(jusou):
    case = Case(jusou, "2025-01-06")
    agreed_plan(case, "2025-06-30")  # plan agreed 01-06, no 接触 since: last contact is 01-06
    case.on("2025-02-05")
    case.do("連絡途絶の確認", 確認日="2025-02-05")
    for day in ("2025-02-10", "2025-03-10", "2025-04-01"):
        contact(case, day, "電話", "不在・応答なし")
    case.on("2025-04-07")  # 91 days, 3 attempts, none of them a home visit
    case.event("状況変化", 日付="2025-04-07", 内容="電話に出ない。")
    with pytest.raises(InvalidInput) as refused:
        case.do("モニタリング", 方向性="中断検討", 次回予定日=None)
    assert "訪問による接触の試みがありません" in refused.value.message
    assert "90日未満" not in refused.value.message and "3回未満" not in refused.value.message
    contact(case, "2025-04-08", "訪問", "不在・応答なし")  # a home visit with a 連絡票
    summary = case.do("モニタリング", 方向性="中断検討", 次回予定日=None)
    assert stage(summary) == ("中断協議", "open")
    summary = case.do("中断協議", 判断="継続")  # the meeting decides to keep going
    assert stage(summary) == ("支援実施", "open") and case.timers()["モニタリング期日"] == "2025-06-30"
    contact(case, "2025-04-20", "訪問", "接触")  # contact again: the counts start over
    case.event("状況変化", 日付="2025-04-20", 内容="面談できた。")
    with pytest.raises(InvalidInput) as refused:
        case.do("モニタリング", 方向性="中断検討", 次回予定日=None)
    assert "経過 0 日" in refused.value.message and "現在 0 回" in refused.value.message


def test_follow_up_defaults_and_reconsultation(jusou):
    case = Case(jusou, "2025-04-07")
    agreed_plan(case, "2025-07-07")
    case.on("2025-07-07")
    case.do("モニタリング", 方向性="終結", 次回予定日=None)
    summary = case.do("終結協議", 判断="終結", フォローアップ要否="要", フォローアップ予定日=None)
    assert stage(summary) == ("終結", "closed")
    assert case.timers() == {"フォローアップ期日": "2025-10-07"}  # the 3-month default
    case.on("2025-10-07")
    summary = case.do("フォローアップ確認", 結果="再相談")
    assert stage(summary) == ("終結", "closed") and summary["timers"] == [] and case.tasks() == []


def test_closure_without_follow_up(jusou):
    case = Case(jusou, "2025-04-07")
    agreed_plan(case, "2025-07-07")
    case.on("2025-07-07")
    case.do("モニタリング", 方向性="終結", 次回予定日=None)
    summary = case.do("終結協議", 判断="終結", フォローアップ要否="不要", フォローアップ予定日=None)
    assert stage(summary) == ("終結", "closed") and summary["timers"] == [] and case.tasks() == []


def test_a_refused_event_names_the_stage_the_case_is_in_now(jusou):
    case = Case(jusou, "2025-04-07")
    agreed_plan(case, "2025-07-07")
    clock.set_now("2025-07-08")  # the モニタリング期日 has passed; no sweep has run yet
    with pytest.raises(Conflict) as refused:
        case.event("状況変化", 日付="2025-07-08", 内容="入院した。")
    assert "段階「モニタリング」にあり" in refused.value.message
    assert "今記録できるイベント: 同意撤回、接触記録。" in refused.value.message
