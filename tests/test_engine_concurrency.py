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
