"""Demo data on the real pathways: users for every lane, cases in flight, idempotent."""
from __future__ import annotations

from engine.demo import load_demo
from tests.conftest import ROOT


def test_demo_loads_users_and_cases_once(kasane):
    first = load_demo(kasane, [ROOT / "workflows"])
    assert {d["pathway"] for d in first["deployed"]} == {"jusou", "outreach", "sanka_shien"}
    assert len(first["cases"]) == 3  # only on the main pathway; the called ones run inside it
    assert sorted(first["users"]) == ["kato", "suzuki", "takahashi", "tanaka", "yamada"]
    assert kasane.verify_password("tanaka", "kasane-demo")["roles"] == ["相談支援コーディネーター"]
    assert {a["agency"] for a in kasane.list_agencies()} >= {
        "デモ地域包括支援センター", "デモ福祉まるごと相談室", "デモアウトリーチ事業者", "デモ参加支援事業者"}
    stages = {kasane.show_case(c)["stage"] for c in first["cases"]}
    assert len(stages) > 1  # cases at different points of the pathway
    again = load_demo(kasane, [ROOT / "workflows"])
    assert again["users"] == [] and again["cases"] == []
