"""Engine benchmarks P1 and P2, measured side by side in one run; prints ratios.

P1: completing a human task through the engine API (load, validate, run, persist, index,
    history) against raw SpiffWorkflow run() + do_engine_steps() + serialize_json() of the
    same task in memory, both over loop cycles 1-10. Target <= 3x.
P2: completing a task at loop cycle 200 of one case against cycle 1. Target <= 1.5x.

Usage: python bench/engine.py [--rounds N] [--database-url URL]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG  # noqa: E402

from engine import clock, migrate  # noqa: E402
from engine.api import Kasane  # noqa: E402
from engine.deployments import build_pathway, parse_bundle, read_model_files  # noqa: E402
from engine.expressions import RestrictedScriptEngine  # noqa: E402

MODEL = ROOT / "tests" / "models" / "loop.bpmn"


def raw_completion_times(cycles: int) -> list[float]:
    """The same loop in memory with plain SpiffWorkflow, cycle 1 first."""
    bundle = parse_bundle(read_model_files([MODEL]))
    spec, subprocess_specs, _ = build_pathway(bundle.parser, "loop")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=RestrictedScriptEngine())
    workflow.task_tree.data["回数"] = 0
    workflow.do_engine_steps()
    times = []
    for _ in range(cycles):
        task = workflow.get_next_task(spec_name="review", state=16)  # READY
        task.data.update({"終了": False})
        start = time.perf_counter()
        task.run()
        workflow.do_engine_steps()
        serializer.serialize_json(workflow)
        times.append(time.perf_counter() - start)
    return times


def engine_completion_times(api: Kasane, cycles: int, actor: str) -> list[float]:
    """Times of each completion of one case's loop task, cycle 1 first."""
    case = api.open_case("loop", actor, {"回数": 0})
    times = []
    for _ in range(cycles):
        task_id = case["tasks"][0]["task_id"]
        start = time.perf_counter()
        case = api.complete_task(task_id, actor, {"終了": False})
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="cases measured for each ratio")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    clock.set_now("2025-04-01")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        api = Kasane(url)
        api.deploy([MODEL])
        api.add_user("bench", ["担当"])
        engine_completion_times(api, 5, "bench")  # warm caches

        p1_engine, raw, p2_first, p2_200 = [], [], [], []
        for _ in range(args.rounds):
            raw.extend(raw_completion_times(10))
            times = engine_completion_times(api, 200, "bench")
            p1_engine.extend(times[:10])
            p2_first.append(times[0])
            p2_200.append(times[199])
        api.close()

    ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    p1 = ms(p1_engine) / ms(raw)
    p2 = ms(p2_200) / ms(p2_first)
    print(f"database: {'PostgreSQL' if args.database_url and 'postgres' in args.database_url else 'SQLite'}")
    print(f"P1 engine completion {ms(p1_engine):.2f} ms / raw SpiffWorkflow {ms(raw):.2f} ms "
          f"= {p1:.2f}x (target <= 3x) {'OK' if p1 <= 3 else 'MISSED'}")
    print(f"P2 cycle 200 {ms(p2_200):.2f} ms / cycle 1 {ms(p2_first):.2f} ms "
          f"= {p2:.2f}x (target <= 1.5x) {'OK' if p2 <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
