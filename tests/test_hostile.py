"""Hostile model text in every slot ends in a refusal naming the element, or is harmless.

The corpus (tests/hostile/corpus.py) runs through the kasane CLI in a subprocess capped
at 2 GiB of address space (RLIMIT_AS) and a timeout, so that a regression fails here
instead of hanging or exhausting the machine. One refused run per group of slots goes
through a real ``python -m engine.cli`` child process as well.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from engine import deployments
from engine.errors import ModelFailure, ModelRefused
from engine.limits import env_name
from tests.conftest import MODELS, ROOT
from tests.hostile.corpus import cases
from tests.hostile.models import DUE_DATE_TASK, SLOTS, plain, sequence

MEMORY_CAP = 2 << 30   # bytes of address space for the corpus process
TIMEOUT = 240          # seconds for one group's cases together (under 20 s when idle)
# One case (lint, or deploy and open): about 1 s at most on an idle machine. CPU time is
# what the budget bounds; wall time also counts what other processes take meanwhile.
CASE_CPU_SECONDS = 5
CASE_SECONDS = 30

LANE_MODEL = Path(__file__).resolve().parent / "models" / "loop.bpmn"


def _cap_memory():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def _problems(outcome):
    return json.loads(outcome["lint"]["out"])["problems"]


def check(outcome, slot, variant, item) -> list[str]:
    """What is wrong with one case's outcome (nothing, when it ends as the corpus says)."""
    _, lint_element, run_element = SLOTS[slot]
    kind, expected = item.expect
    texts = [env_name(name) for name in expected] if kind == "limit" else [expected]
    if kind == "ok":
        steps = ("lint",) if variant == "lint" else ("deploy", "open")
        codes = [outcome.get(step, {}).get("code") for step in steps]
        if codes != [0] * len(steps):
            return [f"not harmless: {[outcome.get(step) for step in steps]}"]
        return []
    if variant == "lint":
        lint = outcome["lint"]
        if lint["code"] != 1:
            return [f"lint did not refuse it: {lint['code']} {lint['out'][:300]} {lint['err'][:300]}"]
        matching = [p for p in _problems(outcome) if p["element"] == lint_element
                    and any(text in p["message"] for text in texts)]
        return [] if matching else [f"no problem on {lint_element} naming {texts}: {_problems(outcome)}"]
    if outcome["deploy"]["code"] != 0:
        return [f"run variant refused before running: {outcome['deploy']}"]
    opened = outcome["open"]
    if opened["code"] != 1:
        return [f"case open did not fail with exit 1: {opened['code']} {opened['out'][:300]} "
                f"{opened['err'][:300]}"]
    error = json.loads(opened["err"])
    message, fields = error["error"], error["fields"]
    problems = []
    # engine.human_tasks computes due dates: it names the element in the text, by its id
    # when the expression fails, by its label when the value is not a usable date.
    named = (fields.get("element") == run_element or f"要素 {run_element} " in message
             or slot == "dueDate" and f"「{DUE_DATE_TASK}」" in message)
    if not named:
        problems.append(f"element {run_element} not named: {error}")
    if kind == "limit":
        if fields.get("limit") not in expected and not any(t in message for t in texts):
            problems.append(f"limit {sorted(expected)} not named: {error}")
    elif expected not in message:
        problems.append(f"reason {expected!r} not in: {error}")
    return problems


# Slots in three groups: one corpus process each, so the test spreads over xdist
# workers while paying Python's start-up only three times.
GROUPS = {"flow": ("condition", "script", "dueDate"),
          "timers": ("timeDate", "timeDuration", "timeCycle"),
          "decisions": ("dmnInput", "dmnOutput", "loopCardinality")}
assert sorted(s for group in GROUPS.values() for s in group) == sorted(SLOTS)


@pytest.mark.parametrize("group", list(GROUPS))
def test_hostile_corpus(group, database_url, tmp_path):
    selected = [(case_id, slot, variant, item) for case_id, slot, variant, item in cases()
                if slot in GROUPS[group]]
    child = next(case_id for case_id, _, variant, item in selected
                 if variant == "run" and item.expect[0] != "ok")
    args = [f"+{case_id}" if case_id == child else case_id for case_id, _, _, _ in selected]
    env = {**os.environ, "KASANE_DATABASE_URL": database_url, "KASANE_NOW": "2025-04-07",
           "PYTHONPATH": str(ROOT)}
    env = {k: v for k, v in env.items() if not k.startswith("KASANE_LIMIT_")}
    try:
        result = subprocess.run([sys.executable, "-m", "tests.hostile.runner", str(tmp_path),
                                 *args], env=env, cwd=ROOT, capture_output=True, text=True,
                                timeout=TIMEOUT, preexec_fn=_cap_memory)
    except subprocess.TimeoutExpired as exc:
        started = [json.loads(line)["start"] for line in (exc.stdout or b"").decode().splitlines()
                   if line.startswith('{"start"')]
        pytest.fail(f"the corpus for {group} did not finish in {TIMEOUT} s; last case: "
                    f"{started[-1] if started else None}")
    outcomes = {}
    for line in result.stdout.splitlines():
        record = json.loads(line)
        if "case" in record:
            outcomes[record["case"]] = record
    assert result.returncode == 0, (result.returncode, result.stderr[-3000:])
    failures = {}
    for case_id, slot, variant, item in selected:
        outcome = outcomes.get(case_id)
        if outcome is None:
            failures[case_id] = ["no outcome"]
            continue
        problems = check(outcome, slot, variant, item)
        if outcome["cpu_seconds"] > CASE_CPU_SECONDS or outcome["seconds"] > CASE_SECONDS:
            problems.append(f"took {outcome['cpu_seconds']} s of CPU, {outcome['seconds']} s")
        if problems:
            failures[case_id] = problems
    assert not failures, json.dumps(failures, ensure_ascii=False, indent=1)


# --- model files: encodings, ids and names longer than their columns, very long models ---

def _encoded(pid, encoding, name="相談受付（重層的支援）") -> bytes:
    text = plain(pid, name=name).replace('encoding="UTF-8"', f'encoding="{encoding}"')
    return text.encode(encoding.lower().replace("_", "-"))  # UTF-16 gets a BOM


def test_a_shift_jis_model_lints_and_deploys_through_the_cli(database_url, tmp_path):
    path = tmp_path / "model.bpmn"
    path.write_bytes(_encoded("sjis", "Shift_JIS"))
    env = {**os.environ, "KASANE_DATABASE_URL": database_url}
    for command, expected in ((["lint"], {"ok": True, "problems": [], "warnings": []}),
                              (["deploy"], [{"pathway": "sjis", "version": 1, "new": True}])):
        result = subprocess.run([sys.executable, "-m", "engine.cli", *command, str(path)],
                                env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
                                preexec_fn=_cap_memory)
        assert (result.returncode, json.loads(result.stdout)) == (0, expected), result.stderr


@pytest.mark.parametrize("encoding", ["Shift_JIS", "UTF-16", "EUC-JP", "UTF-8"])
def test_a_model_in_another_encoding_deploys_and_runs(kasane, tmp_path, encoding):
    path = tmp_path / "model.bpmn"
    path.write_bytes(_encoded("enc", encoding))
    linted = kasane.lint([path])
    assert (linted["ok"], linted["problems"]) == (True, [])
    assert kasane.deploy([path])[0]["pathway"] == "enc"
    kasane.deploy([LANE_MODEL])  # the lane 担当 makes the role known
    kasane.add_user("yamada", ["担当"])
    opened = kasane.open_case("enc", "yamada")
    assert [t["name"] for t in opened["tasks"]] == ["受付"]
    assert kasane.show_case(opened["case_id"])["history"][0]["name"] == "相談受付（重層的支援）"
    # Stored as UTF-8 text, so the same file deploys as the same version again.
    assert kasane.deploy([path])[0]["new"] is False
    with kasane.transaction() as session:
        stored = deployments.latest_deployment(session, "enc").files["model.bpmn"]
    assert stored.startswith('<?xml version="1.0" encoding="UTF-8"?>') and "受付" in stored


def test_a_model_that_is_not_what_it_declares_is_refused_precisely(kasane, tmp_path):
    (tmp_path / "undeclared.bpmn").write_bytes(
        plain("a").replace('encoding="UTF-8"', "").encode("shift_jis"))
    (tmp_path / "mislabeled.bpmn").write_bytes(
        plain("b").replace('encoding="UTF-8"', 'encoding="UTF-16"').encode())
    (tmp_path / "unknown.bpmn").write_bytes(
        plain("c").replace('encoding="UTF-8"', 'encoding="x-kasane"').encode())
    result = kasane.lint([tmp_path])
    problems = {p["file"]: p["message"] for p in result["problems"]}
    assert "UTF-8 として読めません" in problems["undeclared.bpmn"]
    assert "encoding=" in problems["undeclared.bpmn"]
    assert "BOM がありません" in problems["mislabeled.bpmn"]
    assert "'x-kasane' はわかりません" in problems["unknown.bpmn"]
    with pytest.raises(ModelRefused) as refused:
        kasane.deploy([tmp_path / "undeclared.bpmn"])
    assert refused.value.problems[0]["file"] == "undeclared.bpmn"


def test_ids_and_names_longer_than_their_columns_are_refused(kasane, tmp_path):
    long_id = "p" + "x" * 200
    (tmp_path / "long_id.bpmn").write_text(plain(long_id), encoding="utf-8")
    (tmp_path / "long_name.bpmn").write_text(plain("named", name="名" * 201), encoding="utf-8")
    problems = kasane.lint([tmp_path])["problems"]
    assert {(p["element"], p["message"].split("（")[0]) for p in problems} == {
        (long_id, "プロセス ID が長すぎます"), ("named", "プロセス名が長すぎます")}
    assert all("上限 200 文字" in p["message"] for p in problems)
    for name in ("long_id.bpmn", "long_name.bpmn"):  # refused on SQLite as on PostgreSQL
        with pytest.raises(ModelRefused):
            kasane.deploy([tmp_path / name])
    assert kasane.deploy([MODELS / "sample.bpmn"])[0]["version"] == 1  # nothing was stored


def _with_properties(pid: str, task_properties: str, extra: str = "") -> str:
    task = (f'<bpmn:userTask id="u" name="受付"><bpmn:extensionElements><camunda:properties>'
            f'{task_properties}</camunda:properties></bpmn:extensionElements></bpmn:userTask>')
    return plain(pid).replace('<bpmn:userTask id="u" name="受付"/>', task).replace(
        "<bpmn:process ", f"{extra}<bpmn:process ")


@pytest.mark.parametrize(("properties", "extra", "element", "needle"), [
    (f'<camunda:property name="referTo" value="{",".join(f"種別{i:02}" + "x" * 46 for i in range(10))}"/>', "", "u",
     "referTo の紹介先の種別が多すぎます"),
    (f'<camunda:property name="referTo" value="{"種" * 101}"/>', "", "u",
     "紹介先の種別 (referTo) が長すぎます（101 文字、上限 100 文字）"),
    (f'<camunda:property name="assignTo" value="{"種" * 201}"/>', "", "u",
     "(assignTo) が長すぎます（201 文字、上限 200 文字）"),
    (f'<camunda:property name="reads" value="{",".join(["氏名"] * 168)}"/>', "", "u",
     "(reads) が長すぎます（503 文字、上限 500 文字）"),
    # stored as written: spaces count
    (f'<camunda:property name="stage" value="{"段" * 100} "/>', "", "u",
     "段階 (stage) が長すぎます（101 文字、上限 100 文字）"),
    ("", f'<bpmn:message id="m" name="{"連" * 201}"/>', "m", "メッセージ名が長すぎます"),
])
def test_properties_longer_than_their_columns_are_refused_with_the_element(
        kasane, tmp_path, properties, extra, element, needle):
    (tmp_path / "props.bpmn").write_text(_with_properties("props", properties, extra), encoding="utf-8")
    problems = kasane.lint([tmp_path])["problems"]
    assert [p["element"] for p in problems] == [element] and needle in problems[0]["message"], problems
    with pytest.raises(ModelRefused):
        kasane.deploy([tmp_path])


def test_referrals_gathered_past_their_column_fail_as_the_models_error(kasane, tmp_path):
    """Two files, each within the column, that one case takes together: lint cannot see
    it, the case refuses precisely (on SQLite as on PostgreSQL) and keeps nothing."""
    kinds = [f"種別{i:02}" + "x" * 40 for i in range(10)]  # 10 × 45 characters
    caller = _with_properties("outer", f'<camunda:property name="referTo" value="{",".join(kinds[:5])}"/>')
    caller = caller.replace('<bpmn:sequenceFlow id="f2" sourceRef="u" targetRef="end"/>',
                            '<bpmn:callActivity id="call" calledElement="inner"/>'
                            '<bpmn:sequenceFlow id="f3" sourceRef="u" targetRef="call"/>'
                            '<bpmn:sequenceFlow id="f2" sourceRef="call" targetRef="end"/>')
    (tmp_path / "outer.bpmn").write_text(caller, encoding="utf-8")
    (tmp_path / "inner.bpmn").write_text(
        _with_properties("inner", f'<camunda:property name="referTo" value="{",".join(kinds[5:] + kinds[5:][::-1])},{"y" * 60}"/>'),
        encoding="utf-8")
    assert kasane.lint([tmp_path])["problems"] == []
    kasane.deploy([tmp_path])
    kasane.deploy([MODELS / "sample.bpmn"])  # for a working role
    kasane.add_user("yamada", ["包括化推進員"])
    opened = kasane.open_case("outer", "yamada")
    with pytest.raises(ModelFailure) as failed:
        kasane.complete_task(opened["tasks"][0]["task_id"], "yamada", {})
    assert failed.value.fields["element"] == "u" and "referTo" in failed.value.message
    shown = kasane.show_case(opened["case_id"])
    assert [t["name"] for t in shown["tasks"]] == ["受付"] and shown["incidents"]


def test_a_model_with_more_elements_than_the_limit_is_refused(tmp_path):
    (tmp_path / "seq.bpmn").write_text(sequence("seq", 10_000), encoding="utf-8")
    [problem] = deployments.lint([tmp_path])["problems"]
    assert problem["element"] == "seq"
    assert "KASANE_LIMIT_MAX_ELEMENTS" in problem["message"]
    assert "（20,003 個）" in problem["message"]  # 10,000 tasks, 10,001 flows, 2 events


def test_a_chain_too_long_for_spiffworkflow_is_refused_precisely(tmp_path):
    # 497 tasks in one chain (997 flow elements): under max_elements, but past what
    # SpiffWorkflow's recursive parser takes; a precise problem, not a RecursionError.
    (tmp_path / "chain.bpmn").write_text(sequence("chain", 497), encoding="utf-8")
    result = deployments.lint([tmp_path])
    assert [(p["element"], p["message"]) for p in result["problems"]] == [
        ("chain", deployments.TOO_LONG)]
