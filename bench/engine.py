"""Engine benchmarks P1 and P2, measured side by side in one run; prints ratios.

P1: completing a human task through the engine API (load, validate, run, persist, index,
    history) against raw SpiffWorkflow run() + do_engine_steps() + serialize_json() of the
    same task in memory. Measured on the 重層的支援 pathway (the モニタリング task, as in
    production) and on a one-task loop (the smallest possible model, the worst case for
    the engine's fixed costs).
P2: completing a task at loop cycle 200 of one case against cycle 1 (medians over cycles
    196-200 and 1-5): the one-task loop, and the pathway's モニタリング → 継続 → 支援実施 →
    モニタリング期日 (t_monitor) loop.

Usage: python bench/engine.py [--rounds N] [--database-url URL]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer  # noqa: E402
from SpiffWorkflow.util.task import TaskState  # noqa: E402

import forms  # noqa: E402
from bench.databases import scratch_database  # noqa: E402
from engine import clock, migrate, state, unit_of_work  # noqa: E402
from engine.api import Kasane  # noqa: E402
from engine.deployments import build_pathway, parse_bundle, read_model_files  # noqa: E402

LOOP = ROOT / "tests" / "models" / "loop.bpmn"
WORKFLOWS = ROOT / "workflows"
# One pathway completion is a single short measurement on a shared machine: take a few
# per round, each on a case of its own, so that the median has enough samples.
PATHWAY_SAMPLES = 3
ROLES = {"包括化推進員": "intake", "相談支援コーディネーター": "coord",
         "参加支援コーディネーター": "sanka", "アウトリーチ支援員": "outreach", "担当": "bench"}


def raw_serializer() -> BpmnWorkflowSerializer:
    """SpiffWorkflow's own serializer (spec included), plus the one type forms add: dates."""
    from datetime import date

    from SpiffWorkflow.bpmn.serializer.default.event_definition import MessageEventDefinitionConverter
    from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
    from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG
    registry = BpmnWorkflowSerializer.configure(DEFAULT_CONFIG)
    # Receive tasks keep the plain BPMN message class, which the Camunda config drops.
    MessageEventDefinitionConverter(MessageEventDefinition, registry, typename="BpmnMessageEventDefinition")
    registry.register(date, lambda v: {"value": v.isoformat()},
                      lambda v: date.fromisoformat(v["value"]))
    return BpmnWorkflowSerializer(registry)


def timed(func, *args):
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


# ---- the one-task loop -------------------------------------------------------------------

def raw_loop_times(cycles: int) -> list[float]:
    bundle = parse_bundle(read_model_files([LOOP]))
    spec, subprocess_specs, _ = build_pathway(bundle.parser, "loop")
    serializer = raw_serializer()
    workflow = state.new_workflow(spec, subprocess_specs)
    workflow.task_tree.data["回数"] = 0
    workflow.do_engine_steps()
    times = []
    for _ in range(cycles):
        task = workflow.get_next_task(spec_name="review", state=TaskState.READY)
        task.data.update({"終了": False})
        start = time.perf_counter()
        task.run()
        workflow.do_engine_steps()
        serializer.serialize_json(workflow)
        times.append(time.perf_counter() - start)
    return times


def engine_loop_times(api: Kasane, cycles: int) -> list[float]:
    case = api.open_case("loop", "bench", {"回数": 0})
    times = []
    for _ in range(cycles):
        elapsed, case = timed(api.complete_task, case["tasks"][0]["task_id"], "bench", {"終了": False})
        times.append(elapsed)
    return times


# ---- the 重層的支援 pathway ---------------------------------------------------------------

def complete(api: Kasane, case_id: int, name: str, **values) -> dict:
    task = next(t for t in api.list_tasks(case_id=case_id) if t["name"] == name)
    data = {**forms.example_values(task["form"]), **values}
    return api.complete_task(task["task_id"], ROLES[task["role"]], data)


def case_at_monitoring(api: Kasane) -> tuple[int, dict]:
    """A consented case whose plan was agreed, on the day its モニタリング task opens."""
    clock.set_now("2025-04-07")
    case_id = api.open_case("jusou", "intake")["case_id"]
    complete(api, case_id, "相談受付", 対応="多機関協働")
    complete(api, case_id, "受理判断", 判断="受理")
    complete(api, case_id, "同意確認", 同意="あり")
    complete(api, case_id, "アセスメント")
    complete(api, case_id, "プラン作成", モニタリング予定日="2025-05-07", 参加支援利用=False,
             アウトリーチ利用=False)
    complete(api, case_id, "プラン協議", 結果="適切")
    return next_monitoring(api, case_id)


def next_monitoring(api: Kasane, case_id: int) -> tuple[int, dict]:
    due = next(t["due"] for t in api.show_case(case_id)["timers"] if t["element"] == "t_monitor")
    clock.set_now(due)
    api.run_timers()
    task = next(t for t in api.list_tasks(case_id=case_id) if t["name"] == "モニタリング")
    return case_id, task


def continue_values() -> dict:
    next_date = (clock.now() + timedelta(days=30)).astimezone(clock.LOCAL_TZ).date().isoformat()
    return {**forms.example_values("モニタリング"), "実施日": clock.today().isoformat(),
            "方向性": "継続", "次回予定日": next_date}


def pathway_p1(api: Kasane, serializer) -> tuple[float, float]:
    """Engine and raw times for the same モニタリング completion of one fresh case."""
    case_id, task = case_at_monitoring(api)
    values = continue_values()
    # The same state, in memory, for raw SpiffWorkflow; read as any read is (it ends with
    # COMMIT: at a ROLLBACK psycopg would forget the statements it prepared).
    with api.reading() as session:
        workflow = unit_of_work.load_case(session, case_id, fire=False).workflow
    loaded = forms.get_form("モニタリング")().load(values)
    raw_task = workflow.get_task_from_id(UUID(task["task_id"]))
    raw_task.data.update(loaded)
    start = time.perf_counter()
    raw_task.run()
    workflow.do_engine_steps()
    serializer.serialize_json(workflow)
    raw = time.perf_counter() - start
    engine, _ = timed(api.complete_task, task["task_id"], "coord", values)
    return engine, raw


def pathway_loop_times(api: Kasane, cycles: int) -> list[float]:
    case_id, task = case_at_monitoring(api)
    times = []
    for _ in range(cycles):
        elapsed, _ = timed(api.complete_task, task["task_id"], "coord", continue_values())
        times.append(elapsed)
        case_id, task = next_monitoring(api, case_id)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="repetitions of each measurement")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    with scratch_database(args.database_url, "kasane_bench") as url:
        migrate.upgrade(url)
        api = Kasane(url)
        clock.set_now("2025-04-01")
        api.deploy([LOOP])
        api.deploy([WORKFLOWS])
        for role, name in ROLES.items():
            api.add_user(name, [role])
        serializer = raw_serializer()
        engine_loop_times(api, 5)  # warm the caches
        pathway_p1(api, serializer)

        p1_path_engine, p1_path_raw, p1_loop_engine, p1_loop_raw = [], [], [], []
        p2_first, p2_200, p2_path_first, p2_path_last = [], [], [], []
        for _ in range(args.rounds):
            for _ in range(PATHWAY_SAMPLES):
                engine, raw = pathway_p1(api, serializer)
                p1_path_engine.append(engine)
                p1_path_raw.append(raw)
            p1_loop_raw.extend(raw_loop_times(10))
            times = engine_loop_times(api, 200)
            p1_loop_engine.extend(times[:10])
            p2_first.extend(times[:5])   # cycles 1-5 and 196-200: single completions are
            p2_200.extend(times[195:])   # too noisy on a shared machine
        for _ in range(max(2, args.rounds // 3)):
            times = pathway_loop_times(api, 200)
            p2_path_first.extend(times[:5])
            p2_path_last.extend(times[195:])
        api.close()

    def ms(xs):
        return statistics.median(xs) * 1000

    def line(label, a, b, target):
        ratio = ms(a) / ms(b)
        verdict = "OK" if ratio <= target else "MISSED"
        print(f"{label}: {ms(a):.2f} ms / {ms(b):.2f} ms = {ratio:.2f}x "
              f"(target <= {target}x) {verdict}")

    print(f"database: {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}; "
          f"medians of {args.rounds} rounds ({args.rounds * PATHWAY_SAMPLES} pathway completions)")
    line("P1 pathway (モニタリング): engine / raw SpiffWorkflow", p1_path_engine, p1_path_raw, 3)
    line("P1 one-task loop:         engine / raw SpiffWorkflow", p1_loop_engine, p1_loop_raw, 3)
    line("P2 one-task loop:         cycle 200 / cycle 1", p2_200, p2_first, 1.5)
    line("P2 pathway monitoring:    cycle 200 / cycle 1", p2_path_last, p2_path_first, 1.5)


if __name__ == "__main__":
    main()
