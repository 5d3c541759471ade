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
    assert kasane.lint([WORKFLOWS]) == {"ok": True, "problems": []}


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
    assert case.tasks() == ["アウトリーチ訪問記録"]
    assert stage(summary) == ("同意前支援", "open")
    # visits on 05-02 (letter), 05-16 (through the door), 05-30 (face to face)
    case.on("2025-05-02")
    case.do("アウトリーチ訪問記録", 訪問日="2025-05-02", 訪問方法="手紙・連絡票", 結果="接触できず",
            次回訪問日="2025-05-16")
    assert case.tasks() == [] and case.timers() == {"T-outreach": "2025-05-16"}
    case.on("2025-05-16")
    case.do("アウトリーチ訪問記録", 訪問日="2025-05-16", 結果="面談", 次回訪問日=None)
    assert case.timers() == {"T-outreach": "2025-05-30"}  # the 14-day default
    case.on("2025-05-30")
    case.do("アウトリーチ訪問記録", 訪問日="2025-05-30", 結果="面談", 次回訪問日="2025-06-06")
    case.on("2025-06-06")
    summary = case.do("アウトリーチ訪問記録", 訪問日="2025-06-06", 結果="同意取得", 次回訪問日=None)
    assert stage(summary) == ("アセスメント", "open") and case.tasks() == ["アセスメント"]
    case.on("2025-06-09")
    case.do("アセスメント")
    case.on("2025-06-11")
    assert stage(case.do("プラン作成", モニタリング予定日="2025-09-12", 参加支援利用=True)) == \
        ("プラン協議", "open")
    case.on("2025-06-13")
    summary = case.do("プラン協議", 結果="適切")
    assert stage(summary) == ("支援実施", "open")
    assert case.timers() == {"T-monitor": "2025-09-12", "T-nocontact": "2025-07-13"}
    assert case.tasks() == ["参加支援マッチング"]
    # 参加支援: matched on 07-01, checks on 07-15 and 08-01 (+2 weeks, +1 month)
    case.on("2025-07-01")
    assert stage(case.do("参加支援マッチング")) == ("支援実施", "open")
    assert case.timers()["T-participation"] == "2025-07-15"
    case.on("2025-07-13")  # no 接触記録 since the plan was agreed on 06-13
    assert "ノーコンタクト警告確認" in case.tasks()
    assert stage(case.do("ノーコンタクト警告確認", 確認日="2025-07-13")) == ("支援実施", "open")
    case.on("2025-07-15")
    case.do("参加支援フォローアップ", 確認日="2025-07-15", 状況="定着")
    assert case.timers()["T-participation"] == "2025-08-01"
    case.on("2025-08-01")
    case.do("参加支援フォローアップ", 確認日="2025-08-01", 状況="定着")
    assert case.timers()["T-participation"] == "2025-10-01"
    # the monitoring task appears on 09-12
    case.on("2025-09-11")
    assert "モニタリング" not in case.tasks()
    summary = case.on("2025-09-12")
    assert "モニタリング" in case.tasks() and stage(summary) == ("モニタリング", "open")
    case.do("モニタリング", 実施日="2025-09-12", 方向性="終結", 次回予定日=None)
    case.on("2025-10-03")
    summary = case.do("終結協議", 判断="終結", フォローアップ予定日="2026-01-09")
    assert stage(summary) == ("終結", "closed")
    assert case.timers() == {"T-followup": "2026-01-09"}  # T-monitor, T-participation, T-nocontact gone
    assert case.tasks() == []
    # the follow-up task appears on 2026-01-09
    case.on("2026-01-08")
    assert case.tasks() == []
    summary = case.on("2026-01-09")
    assert case.tasks() == ["フォローアップ確認"] and stage(summary) == ("フォローアップ", "closed")
    summary = case.do("フォローアップ確認", 確認日="2026-01-09", 結果="問題なし")
    assert stage(summary) == ("終結", "closed") and summary["timers"] == []
