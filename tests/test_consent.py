"""Consent per member: an outreach visit that obtains consent leaves a 情報共有同意書, a
withdrawal ends sharing at once, and an expired consent stops counting by itself."""
from __future__ import annotations

import pytest

import forms
from engine import access, clock
from engine.errors import NotFound
from tests.policy_world import SON, household


@pytest.fixture
def consented(kasane):
    """長男 consents on an outreach visit, sharing with 自立相談 (sato, not an attendee)."""
    world = household(kasane, attendees=("yamada",))
    clock.set_now("2025-04-10")
    world.complete("アウトリーチ訪問記録", "suzuki", 訪問日="2025-04-10", 訪問者="アウトリーチ 鈴木",
                   結果="同意取得", 対象者=SON, 同意者="本人", 共有先=["自立相談", "まるごと"],
                   情報範囲=["基本情報", "支援経過"], 目的="就労に向けた支援のため", 有効期限="2025-09-30")
    return world


def members_seen(kasane, case_id, user) -> list[str]:
    return [m["氏名"] for m in kasane.show_case(case_id, user)["household"]]


def test_an_outreach_visit_that_obtains_consent_leaves_a_consent_form(consented, kasane):
    shown = kasane.show_case(consented.case_id)
    assert shown["stage"] == "アセスメント" and shown["data"]["同意"] == "あり"
    son = next(m for m in shown["household"] if m["氏名"] == SON)
    [form] = son["consents"]
    assert form == {**form, "状態": "有効", "同意者": "本人", "説明者": "アウトリーチ 鈴木",
                    "同意日": "2025-04-10", "共有先": ["まるごと", "自立相談"],
                    "情報範囲": ["基本情報", "支援経過"], "目的": "就労に向けた支援のため",
                    "有効期限": "2025-09-30", "撤回日": None,
                    "record_id": consented.record_id("アウトリーチ訪問記録")}
    assert members_seen(kasane, consented.case_id, "sato") == [SON]


def test_a_withdrawal_ends_sharing_at_once(consented, kasane):
    assert [h["氏名"] for h in kasane.search_cases("一郎", "sato")] == [SON]
    consented.event("同意撤回", "tanaka", 日付="2025-04-11", 対象者=SON)
    with pytest.raises(NotFound):
        kasane.show_case(consented.case_id, "sato")
    assert kasane.search_cases("一郎", "sato") == []
    shown = kasane.show_case(consented.case_id)
    assert shown["stage"] == "同意前支援" and shown["data"]["同意"] == "なし"
    son = next(m for m in shown["household"] if m["氏名"] == SON)
    assert [(c["状態"], c["撤回日"]) for c in son["consents"]] == [("撤回", "2025-04-11")]


def test_an_expired_consent_stops_counting_by_itself(consented, kasane):
    clock.set_now("2025-09-30T23:00:00+09:00")
    assert members_seen(kasane, consented.case_id, "sato") == [SON]
    clock.set_now("2025-10-01T00:00:00+09:00")  # nobody does anything: the day passes
    with pytest.raises(NotFound):
        kasane.show_case(consented.case_id, "sato")
    assert kasane.search_cases("一郎", "sato") == []
    son = next(m for m in kasane.show_case(consented.case_id)["household"] if m["氏名"] == SON)
    assert son["consents"][0]["状態"] == "期限切れ"


def test_the_scope_that_shows_a_member_is_one_the_consent_form_offers():
    assert access.IDENTITY_SCOPE in forms.SCOPES
