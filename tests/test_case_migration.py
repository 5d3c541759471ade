"""Moving running cases to a newer version: a preview, SpiffWorkflow's diff on the compacted
state, refusals with reasons, a history entry with both versions, and a revert."""
from __future__ import annotations

import pytest

from engine import clock
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from tests.conftest import MODELS

BASE = (MODELS / "steps.bpmn").read_text(encoding="utf-8")


@pytest.fixture
def world(kasane, tmp_path):
    clock.set_now("2025-04-01")
    kasane.deploy([MODELS / "steps.bpmn"])
    kasane.add_user("ito", ["担当"])
    kasane.add_user("boss", ["管理者"])

    def deploy(text):
        folder = tmp_path / f"v{len(list(tmp_path.iterdir())) + 2}"
        folder.mkdir()
        (folder / "steps.bpmn").write_text(text, encoding="utf-8")
        return kasane.deploy([folder], actor="boss")

    kasane.deploy_version = deploy
    return kasane


def complete(kasane, case_id, name):
    task = next(t for t in kasane.show_case(case_id)["tasks"] if t["name"] == name)
    return kasane.complete_task(task["task_id"], "ito", {})


def names(summary):
    return [t["name"] for t in summary["tasks"]]


def test_a_renamed_task_ahead_of_the_case_migrates_after_a_preview_and_reverts(world):
    case = world.open_case("steps", "ito")
    world.deploy_version(BASE.replace('name="三つ目"', 'name="三つ目（確認）"'))
    preview = world.preview_migration(case["case_id"], actor="boss")
    assert preview["allowed"] and (preview["from_version"], preview["to_version"]) == (1, 2)
    assert preview["active"] == ["first"] and preview["changed"] == ["third"]
    assert preview["active_names"] == {"first": "一つ目"}
    assert world.show_case(case["case_id"])["version"] == 1  # a preview changes nothing
    moved = world.migrate_case(case["case_id"], actor="boss")
    assert world.show_case(case["case_id"])["version"] == 2
    for name in ("一つ目", "二つ目", "副作業"):
        complete(world, case["case_id"], name)
    assert names(world.show_case(case["case_id"])) == ["三つ目（確認）"]
    history = [h for h in world.show_case(case["case_id"])["history"] if h["kind"] == "migrated"]
    assert [(h["from_version"], h["to_version"], h["actor"]) for h in history] == [(1, 2, "boss")]
    # The case moved on since: the revert migrates it back (the renamed task is harmless).
    back = world.revert_migration(moved["migration_id"], actor="boss")
    assert back["version"] == 1 and back["how"] == "migrated back"
    shown = world.show_case(case["case_id"])
    assert shown["version"] == 1 and names(shown) == ["三つ目"]
    with pytest.raises(Conflict):
        world.revert_migration(moved["migration_id"], actor="boss")


def test_a_revert_right_after_the_migration_restores_the_state(world):
    case = world.open_case("steps", "ito")
    world.deploy_version(BASE.replace('name="三つ目"', 'name="三つ目（確認）"'))
    moved = world.migrate_case(case["case_id"], actor="boss")
    back = world.revert_migration(moved["migration_id"], actor="boss")
    assert back["how"] == "restored"
    shown = world.show_case(case["case_id"])
    assert shown["version"] == 1 and names(shown) == ["一つ目"]
    assert [h["kind"] for h in shown["history"]][-2:] == ["migrated", "migration_reverted"]
    complete(world, case["case_id"], "一つ目")  # and it runs on
    assert names(world.show_case(case["case_id"])) == ["二つ目"]


def test_a_newly_added_activity_ahead_of_the_case_is_taken_not_skipped(world):
    case = world.open_case("steps", "ito")
    world.deploy_version(BASE.replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="added"/>'
        '<bpmn:userTask id="added" name="追加の確認"/>'
        '<bpmn:sequenceFlow id="f2b" sourceRef="added" targetRef="second"/>').replace(
        '<bpmn:flowNodeRef>second</bpmn:flowNodeRef>',
        '<bpmn:flowNodeRef>second</bpmn:flowNodeRef><bpmn:flowNodeRef>added</bpmn:flowNodeRef>'))
    world.migrate_case(case["case_id"], actor="boss")
    after = complete(world, case["case_id"], "一つ目")
    assert names(after) == ["追加の確認"]
    assert names(complete(world, case["case_id"], "追加の確認")) == ["二つ目"]


def test_migration_while_a_call_activity_runs(world):
    case = world.open_case("steps", "ito")
    complete(world, case["case_id"], "一つ目")
    complete(world, case["case_id"], "二つ目")
    assert names(world.show_case(case["case_id"])) == ["副作業"]  # inside the called process
    world.deploy_version(BASE.replace('name="三つ目"', 'name="三つ目（確認）"'))
    preview = world.preview_migration(case["case_id"], actor="boss")
    assert preview["allowed"], preview["reasons"]
    world.migrate_case(case["case_id"], actor="boss")
    assert names(complete(world, case["case_id"], "副作業")) == ["三つ目（確認）"]


def test_migration_is_refused_when_a_finished_or_active_element_changed(world):
    case = world.open_case("steps", "ito")
    complete(world, case["case_id"], "一つ目")
    world.deploy_version(BASE.replace('<bpmn:userTask id="first" name="一つ目"/>',
                                      '<bpmn:userTask id="first" name="一つ目" camunda:formKey="受理判断"/>'))
    preview = world.preview_migration(case["case_id"], actor="boss")
    assert not preview["allowed"]
    assert any("通過済み" in r and "first" in r for r in preview["reasons"])
    with pytest.raises(Conflict) as refused:
        world.migrate_case(case["case_id"], actor="boss")
    assert "first" in refused.value.message
    assert world.show_case(case["case_id"])["version"] == 1
    removed = BASE.replace('<bpmn:flowNodeRef>second</bpmn:flowNodeRef>', '').replace(
        '<bpmn:userTask id="second" name="二つ目"/>', '').replace(
        '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>',
        '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="call"/>').replace(
        '<bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="call"/>', '')
    world.deploy_version(removed)
    preview = world.preview_migration(case["case_id"], actor="boss")
    assert any("実行中" in r and "second" in r and "削除" in r for r in preview["reasons"])


def test_only_managers_move_cases_and_see_versions(world):
    case = world.open_case("steps", "ito")
    world.deploy_version(BASE.replace('name="三つ目"', 'name="三つ目（確認）"'))
    with pytest.raises(Forbidden):
        world.migrate_case(case["case_id"], actor="ito")
    with pytest.raises(Forbidden):
        world.list_pathways(actor="ito")
    listed = {p["pathway"]: p for p in world.list_pathways(actor="boss")}
    assert [(v["version"], v["running_cases"]) for v in listed["steps"]["versions"]] == [(1, 1), (2, 0)]
    assert listed["steps"]["versions"][1]["deployed_by"] == "boss"
    diff = world.pathway_diff("steps", 1, 2, actor="boss")
    assert diff["added"] == [] and diff["removed"] == []
    [change] = diff["changed"]
    assert change["element"] == "third" and change["changes"] == [
        {"what": "名前", "key": "name", "before": "三つ目", "after": "三つ目（確認）"}]


def test_the_cli_previews_migrates_and_reverts(world, database_url, tmp_path):
    import json
    import os
    import subprocess
    import sys

    case = world.open_case("steps", "ito")
    world.deploy_version(BASE.replace('name="三つ目"', 'name="三つ目（確認）"'))
    env = {**os.environ, "KASANE_DATABASE_URL": database_url, "KASANE_NOW": "2025-04-01"}

    def run(*args, code=0):
        done = subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == code, done.stderr
        return json.loads(done.stdout if code == 0 else done.stderr)

    assert run("case", "migrate", case["case_id"], "--preview", "--as", "boss")["allowed"]
    run("case", "migrate", case["case_id"], "--as", "ito", code=4)
    moved = run("case", "migrate", case["case_id"], "--to", "2", "--as", "boss")
    assert run("pathway", "list", "--as", "boss")[0]["versions"][1]["running_cases"] == 1
    assert run("pathway", "diff", "steps", "1", "2")["changed"][0]["element"] == "third"
    assert run("case", "revert-migration", moved["migration_id"], "--as", "boss")["version"] == 1


def test_the_modeler_lints_saves_a_draft_and_deploys_files_given_as_content(world):
    files = world.pathway_files("steps", actor="boss")
    assert files["version"] == 1 and list(files["files"]) == ["steps.bpmn"] and files["draft"] is None
    edited = {"steps.bpmn": files["files"]["steps.bpmn"].replace('name="三つ目"', 'name="三つ目（確認）"')}
    assert world.lint_files(edited)["ok"]
    broken = {"steps.bpmn": edited["steps.bpmn"].replace('sourceRef="second" targetRef="call"',
                                                         'sourceRef="second" targetRef="nowhere"')}
    assert not world.lint_files(broken)["ok"]
    world.save_model_draft("steps", broken, based_on=1, actor="boss")  # a draft may be broken
    assert world.pathway_files("steps", actor="boss")["draft"]["files"] == broken
    with pytest.raises(Exception):
        world.deploy_files(broken, actor="boss")
    assert world.deploy_files(edited, actor="boss")[0] == {"pathway": "steps", "version": 2, "new": True}
    assert world.pathway_files("steps", actor="boss")["draft"] is None  # deployed: the draft is gone
    with pytest.raises(Exception):
        world.deploy_files({"../evil.bpmn": "x"}, actor="boss")
    with pytest.raises(Forbidden):
        world.deploy_files(edited, actor="ito")
    vocabulary = world.modeling_vocabulary()
    assert "相談受付" in vocabulary["forms"] and "担当" in vocabulary["roles"]


def test_a_case_moves_only_while_it_runs_and_only_to_another_version(world):
    case = world.open_case("steps", "ito")
    preview = world.preview_migration(case["case_id"], 1, actor="boss")
    assert not preview["allowed"] and preview["reasons"] == ["このケースは既に版 1 で動いています。"]
    for name in ("一つ目", "二つ目", "副作業", "三つ目"):
        complete(world, case["case_id"], name)
    world.deploy_version(BASE.replace('name="三つ目"', 'name="三つ目（確認）"'))
    with pytest.raises(Conflict) as refused:
        world.migrate_case(case["case_id"], actor="boss")
    assert "終結したケースは移せません" in refused.value.message
    assert world.case_migrations(case["case_id"], actor="boss") == []


def test_the_running_cases_of_a_version_page_by_cursor_and_list_their_migrations(world):
    opened = [world.open_case("steps", "ito")["case_id"] for _ in range(3)]
    world.deploy_version(BASE.replace('name="三つ目"', 'name="三つ目（確認）"'))
    first = world.running_cases("steps", 1, actor="boss", limit=2)
    assert [c["case_id"] for c in first] == opened[:2] and first[0]["status"] == "open"
    rest = world.running_cases("steps", 1, actor="boss", after=first[-1]["cursor"])
    assert [c["case_id"] for c in rest] == opened[2:]
    moved = world.migrate_case(opened[0], actor="boss")
    assert [c["case_id"] for c in world.running_cases("steps", 2, actor="boss")] == [opened[0]]
    world.revert_migration(moved["migration_id"], actor="boss")
    [migration] = world.case_migrations(opened[0], actor="boss")
    assert (migration["from_version"], migration["to_version"], migration["actor"]) == (1, 2, "boss")
    assert migration["reverted_at"] is not None
    for call in (lambda: world.running_cases("steps", 1, actor="ito"),
                 lambda: world.case_migrations(opened[0], actor="ito"),
                 lambda: world.lint_files({"steps.bpmn": BASE}, actor="ito"),
                 lambda: world.modeling_vocabulary(actor="ito")):
        with pytest.raises(Forbidden):
            call()
    assert world.lint_files({"steps.bpmn": BASE}, actor="boss")["ok"]
    with pytest.raises(NotFound):
        world.running_cases("steps", 9, actor="boss")
    with pytest.raises(InvalidInput):
        world.running_cases("steps", 1, actor="boss", after="１")


def test_a_changed_decision_behind_a_finished_business_rule_task_does_not_hold_the_case(kasane, tmp_path):
    """Changing settings (a DMN table the case already read) is what new versions are for:
    the case moves, keeps the values it read, and reads the new table when it gets there."""
    clock.set_now("2025-04-01")
    rules = (MODELS / "rules.bpmn").read_text(encoding="utf-8")
    defaults = (MODELS / "rules_defaults.dmn").read_text(encoding="utf-8")
    check = (MODELS / "rules.dmn").read_text(encoding="utf-8")
    kasane.deploy_files({"rules.bpmn": rules, "rules.dmn": check, "rules_defaults.dmn": defaults})
    kasane.add_user("ito", ["担当"])
    case = kasane.open_case("rules", "ito")
    kasane.deploy_files({"rules.bpmn": rules, "rules.dmn": check,
                         "rules_defaults.dmn": defaults.replace('"P3M"', '"P6M"')})
    preview = kasane.preview_migration(case["case_id"])
    assert preview["allowed"], preview["reasons"]
    kasane.migrate_case(case["case_id"])
    shown = kasane.show_case(case["case_id"])
    assert shown["version"] == 2 and shown["data"]["間隔"] == "P3M"
    assert kasane.open_case("rules", "ito")["data"]["間隔"] == "P6M"


def test_the_diff_ignores_attributes_written_at_their_default(world):
    spelled_out = BASE.replace('<bpmn:userTask id="first" name="一つ目"/>',
                               '<bpmn:userTask id="first" name="一つ目" startQuantity="1" '
                               'isForCompensation="false"/>')
    world.deploy_version(spelled_out)
    diff = world.pathway_diff("steps", 1, 2, actor="boss")
    assert diff["changed"] == [] and diff["added"] == [] and diff["removed"] == []
