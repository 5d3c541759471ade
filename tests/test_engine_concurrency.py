"""Calls that meet at once: exactly one wins where only one can, and the other gets a
conflict, never a database error."""
from __future__ import annotations

from engine import clock
from engine.api import Kasane
from engine.errors import Conflict
from tests.conftest import MODELS, at_once


def test_concurrent_completions_of_one_task(kasane, database_url):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "loop.bpmn"])
    kasane.add_user("ito", ["担当"])
    apis = [Kasane(database_url), Kasane(database_url)]
    for _ in range(5):  # a few rounds, so a lucky interleaving cannot pass by chance
        case = kasane.open_case("loop", "ito", {"回数": 0})
        task_id = case["tasks"][0]["task_id"]
        outcomes = at_once(*(lambda api=api, n=n: api.complete_task(task_id, "ito", {"終了": True, "勝者": n})
                             for n, api in enumerate(apis)))
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "dict"], outcomes
        winner = next(n for n, o in enumerate(outcomes) if isinstance(o, dict))
        shown = kasane.show_case(case["case_id"])
        assert shown["data"]["勝者"] == winner and shown["status"] == "closed"
        assert sum(h["kind"] == "task_completed" for h in shown["history"]) == 1
    for api in apis:
        api.close()


def test_two_registrations_of_one_name_at_once(kasane, database_url):
    """Both pass the check that the name is free; the later insert is a Conflict, as a
    registration after the first would be."""
    kasane.deploy([MODELS / "loop.bpmn"])
    apis = [Kasane(database_url), Kasane(database_url)]
    for round_ in range(5):
        outcomes = at_once(*(lambda api=api: api.add_user(f"sato{round_}", ["担当"]) for api in apis))
        assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "dict"], outcomes
        refused = next(o.message for o in outcomes if isinstance(o, Conflict))
        assert "既に登録されています" in refused or "同時に同じものを登録しました" in refused
    for api in apis:
        api.close()


def test_two_saves_of_a_first_draft_at_once(kasane, database_url):
    """A double click on 下書き保存: both saves succeed and one of them is kept."""
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "loop.bpmn"])
    kasane.add_user("ito", ["担当"])
    apis = [Kasane(database_url), Kasane(database_url)]
    for _ in range(5):
        case = kasane.open_case("loop", "ito", {"回数": 0})
        task_id = case["tasks"][0]["task_id"]
        outcomes = at_once(*(lambda api=api, n=n: api.save_draft(task_id, "ito", {"勝者": n})
                             for n, api in enumerate(apis)))
        assert outcomes == [{"task_id": task_id, "saved": True}] * 2, outcomes
        assert kasane.get_task(task_id, "ito")["draft"]["values"]["勝者"] in (0, 1)
    for api in apis:
        api.close()
