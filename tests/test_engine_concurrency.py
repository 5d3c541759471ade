"""Two completions of the same task at once: exactly one wins, the other gets a conflict."""
from __future__ import annotations

import threading

from engine import clock
from engine.api import Kasane
from engine.errors import Conflict
from tests.conftest import MODELS


def test_concurrent_completions_of_one_task(kasane, database_url):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "loop.bpmn"])
    kasane.add_user("ito", ["担当"])
    for _ in range(5):  # a few rounds, so a lucky interleaving cannot pass by chance
        case = kasane.open_case("loop", "ito", {"回数": 0})
        task_id = case["tasks"][0]["task_id"]
        apis = [Kasane(database_url), Kasane(database_url)]
        barrier = threading.Barrier(2)
        outcomes = []

        def complete(api, n):
            barrier.wait()
            try:
                api.complete_task(task_id, "ito", {"終了": True, "勝者": n})
                outcomes.append(("ok", n))
            except Conflict as exc:
                outcomes.append(("conflict", exc.message))

        threads = [threading.Thread(target=complete, args=(api, n)) for n, api in enumerate(apis)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for api in apis:
            api.close()
        assert sorted(kind for kind, _ in outcomes) == ["conflict", "ok"], outcomes
        winner = next(n for kind, n in outcomes if kind == "ok")
        shown = kasane.show_case(case["case_id"])
        assert shown["data"]["勝者"] == winner and shown["status"] == "closed"
        assert sum(h["kind"] == "task_completed" for h in shown["history"]) == 1


def test_two_registrations_of_one_name_at_once(kasane, database_url):
    """Both pass the check that the name is free; the later insert is a Conflict, as a
    registration after the first would be, never a database error."""
    kasane.deploy([MODELS / "loop.bpmn"])
    apis = [Kasane(database_url), Kasane(database_url)]
    for round_ in range(5):
        barrier = threading.Barrier(2)
        outcomes = []

        def add(api):
            barrier.wait()
            try:
                api.add_user(f"sato{round_}", ["担当"])
                outcomes.append("ok")
            except Conflict as exc:
                outcomes.append(exc.message)
            except Exception as exc:  # noqa: BLE001 - the assertion below names it
                outcomes.append(repr(exc))

        threads = [threading.Thread(target=add, args=(api,)) for api in apis]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert outcomes.count("ok") == 1, outcomes
        refused = next(o for o in outcomes if o != "ok")
        assert "既に登録されています" in refused or "同時に同じものを登録しました" in refused, outcomes
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
        barrier = threading.Barrier(2)
        outcomes = []

        def save(api, n):
            barrier.wait()
            try:
                outcomes.append(api.save_draft(task_id, "ito", {"勝者": n})["saved"])
            except Exception as exc:  # noqa: BLE001 - the assertion below names it
                outcomes.append(repr(exc))

        threads = [threading.Thread(target=save, args=(api, n)) for n, api in enumerate(apis)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert outcomes == [True, True]
        assert kasane.get_task(task_id, "ito")["draft"]["values"]["勝者"] in (0, 1)
    for api in apis:
        api.close()
