"""Stored state: restricted engine after reload, compaction, and years-long loops."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from engine import clock, state
from engine.deployments import parse_bundle, read_model_files, build_pathway
from engine.store import Case, StepRecord
from tests.conftest import MODELS


@pytest.fixture
def loop(kasane):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "loop.bpmn"])
    kasane.add_user("ito", ["担当"])
    return kasane


def test_reloaded_workflow_runs_scripts_under_the_restricted_engine():
    bundle = parse_bundle(read_model_files([MODELS / "loop.bpmn"]))
    spec, subprocess_specs, _ = build_pathway(bundle.parser, "loop")
    workflow = state.new_workflow(spec, subprocess_specs)
    workflow.task_tree.data["回数"] = 0
    workflow.do_engine_steps()
    restored = state.load(state.dump(workflow), spec, subprocess_specs)
    assert restored.script_engine is workflow.script_engine
    task = restored.get_next_task(spec_name="review")
    # A value an unrestricted eval would happily run: the restricted engine refuses it.
    with pytest.raises(WorkflowTaskException) as refused:
        restored.script_engine.evaluate(task, "().__class__.__bases__")
    assert "__class__" in str(refused.value.__cause__ or refused.value)
    task.data["終了"] = True
    task.run()
    restored.do_engine_steps()
    assert restored.completed and restored.last_task.data["回数"] == 1


def test_a_case_looping_400_cycles_stays_correct_and_small(loop):
    case = loop.open_case("loop", "ito", {"回数": 0})
    sizes = []
    for cycle in range(1, 401):
        [task] = case["tasks"]
        assert task["name"] == "見直し", cycle
        assert case["data"]["回数"] == cycle, cycle
        assert case["stage"] == "モニタリング"
        case = loop.complete_task(task["task_id"], "ito", {"終了": cycle == 400, "周回": cycle})
        with loop.transaction() as s:
            sizes.append(len(s.get(Case, case["case_id"]).state))
    assert case["status"] == "closed" and case["stage"] == "終結" and case["tasks"] == []
    assert case["data"]["周回"] == 400
    assert max(sizes[300:]) <= max(sizes[:10]) * 1.2  # does not grow with the case's age
    with loop.transaction() as s:
        reviews = s.scalar(select(func.count()).select_from(StepRecord)
                           .where(StepRecord.spec_id == "review"))
        assert reviews == 400  # the full history stays queryable in our tables
    history = loop.show_case(case["case_id"])["history"]
    assert sum(h["kind"] == "task_completed" for h in history) == 400


def test_step_log_names_the_element_each_step_came_from(loop):
    case = loop.open_case("loop", "ito", {"回数": 0})
    loop.complete_task(case["tasks"][0]["task_id"], "ito", {"終了": True})
    with loop.transaction() as s:
        steps = [(r.previous_spec_id, r.spec_id) for r in
                 s.scalars(select(StepRecord).order_by(StepRecord.id))]
    assert steps == [(None, "start"), ("start", "count"), ("count", "review"),
                     ("review", "gw"), ("gw", "end")]


def test_compaction_keeps_parallel_call_activity_and_boundary_loops_correct(kasane):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "loop_complex.bpmn"])
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("loop_complex", "ito", {"回数": 0, "上限": 40, "基準日": "2025-04-10"})
    sizes = []
    for cycle in range(40):
        tasks = {t["name"]: t for t in case["tasks"]}
        assert set(tasks) == {"主作業", "副作業"}, cycle
        assert tasks["主作業"]["due"] == f"2025-04-{10 + cycle:02d}T09:00:00+09:00" if cycle < 21 \
            else tasks["主作業"]["due"].startswith("2025-05-")
        assert tasks["副作業"]["due"] == "2025-05-01T09:00:00+09:00"
        if cycle % 10 == 3:  # let the non-interrupting boundary timer fire now and then
            clock.advance(__import__("datetime").timedelta(days=2))
            assert kasane.run_timers()["fired"] == 1
        case = kasane.complete_task(tasks["副作業"]["task_id"], "ito", {})
        assert [t["name"] for t in case["tasks"]] == ["主作業"]  # the join waits
        case = kasane.complete_task(tasks["主作業"]["task_id"], "ito", {"周回": cycle})
        assert case["data"]["回数"] == cycle + 1
        with kasane.transaction() as s:
            sizes.append(len(s.get(Case, case["case_id"]).state))
    assert case["status"] == "closed" and case["tasks"] == []
    assert max(sizes[30:39]) <= max(sizes[:5]) * 1.2


def test_branches_looping_side_by_side_stay_small_and_join_correctly(kasane):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "parallel_loops.bpmn"])
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("parallel_loops", "ito")

    def do(name, **data):
        task = next(t for t in case["tasks"] if t["name"] == name)
        return kasane.complete_task(task["task_id"], "ito", data)

    sizes = []
    for cycle in range(300):  # A loops for years while B and C wait in their branches
        case = do("A", a_done=False, a_count=cycle)
        assert sorted(t["name"] for t in case["tasks"]) == ["A", "B", "C"], cycle
        with kasane.transaction() as s:
            sizes.append(len(s.get(Case, case["case_id"]).state))
    assert max(sizes[250:]) <= max(sizes[:10]) * 1.2
    case = do("C", c_value="c")          # one input of the join arrives
    case = do("A", a_done=True, a_count=300)  # a second input arrives; the join still waits
    assert [t["name"] for t in case["tasks"]] == ["B"] and case["status"] == "open"
    for cycle in range(50):
        case = do("B", b_done=False)
    case = do("B", b_done=True, b_value="b")
    assert case["status"] == "closed" and case["tasks"] == []
    # the join merged every branch's data, including the branch that waited longest
    assert {k: case["data"][k] for k in ("a_count", "b_value", "c_value")} == \
        {"a_count": 300, "b_value": "b", "c_value": "c"}
    with kasane.transaction() as s:
        ended = s.scalar(select(func.count()).select_from(StepRecord)
                         .where(StepRecord.spec_id == "end"))
        into_join = {r.previous_spec_id for r in s.scalars(
            select(StepRecord).where(StepRecord.spec_id == "join"))}
    assert ended == 1
    assert into_join == {"a_gw", "b_gw", "c_task"}  # every branch that reached the join


def test_case_state_writes_every_field_spiffworkflow_writes_except_the_specs():
    """Fails loudly when a SpiffWorkflow upgrade adds a workflow field our converter drops."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter

    bundle = parse_bundle(read_model_files([MODELS / "loop.bpmn"]))
    spec, subprocess_specs, _ = build_pathway(bundle.parser, "loop")
    workflow = state.new_workflow(spec, subprocess_specs)
    workflow.task_tree.data["氏名"] = "重 花子"
    theirs = BpmnWorkflowConverter(BpmnWorkflow, state._registry).to_dict(workflow)
    ours = state.CaseStateConverter(BpmnWorkflow, state._registry).to_dict(workflow)
    assert set(theirs) - {"spec", "subprocess_specs"} == set(ours)
    text = state.dump(workflow)
    assert "重 花子" in text and '"spec"' not in text
    restored = state.load(text, spec, subprocess_specs)
    assert [t.task_spec.name for t in restored.get_tasks()] == \
        [t.task_spec.name for t in workflow.get_tasks()]
