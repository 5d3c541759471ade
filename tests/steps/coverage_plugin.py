"""Path coverage of the behaviour specs.

After each feature scenario, the step log of that scenario's database is written as JSONL
to ``<repo>/.kasane-coverage/<run>/`` (one file per test, so xdist workers never share a
file); the first line names the scenario. The controller (the only process without
``config.workerinput``) names the run folder, removes the folders of ended runs but the
latest, and hands the folder to the xdist workers.

When every scenario of ``features/`` ran in the session, the controller computes the
coverage of the main pathway (``jusou``) and fails the session, listing the flows, if any
sequence flow was never taken. The terminal summary shows the coverage line either way.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from engine import coverage
from engine.errors import KasaneError

ROOT = Path(__file__).resolve().parents[2]
COVERAGE_DIR = ROOT / ".kasane-coverage"
FEATURES_DIR = ROOT / "features"
WORKFLOWS_DIR = ROOT / "workflows"
PATHWAY = "jusou"
WORKER_KEY = "kasane_coverage_run"

_run_dir: Path | None = None  # created by the first scenario that writes to it
_controller_pid: int | None = None
_outcome: dict | None = None


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_ended_runs() -> None:
    """Delete the folders of ended runs but the latest (others may be running in this tree).

    The latest ended run stays, so ``kasane coverage jusou --steps <its folder>`` works
    after the session.
    """
    if not COVERAGE_DIR.is_dir():
        return
    ended = []
    for run in COVERAGE_DIR.iterdir():
        if not run.is_dir():
            continue
        try:
            pid = int((run / "pid").read_text())
        except (OSError, ValueError):
            pid = None
        if pid is None and time.time() - run.stat().st_mtime < 60:
            continue  # just created; its pid file is being written
        if pid is None or not _pid_alive(pid):
            ended.append((run.stat().st_mtime, run))
    for _, run in sorted(ended)[:-1]:
        shutil.rmtree(run, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session) -> None:
    global _run_dir, _controller_pid, _outcome
    config = session.config
    _outcome = None
    if _is_controller(config):
        _remove_ended_runs()
        _controller_pid = os.getpid()
        _run_dir = COVERAGE_DIR / f"run-{_controller_pid}-{time.time_ns()}"
    else:
        _run_dir = Path(config.workerinput[WORKER_KEY])
        _controller_pid = int(config.workerinput[WORKER_KEY + "_pid"])


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """xdist, on the controller: tell each worker where to write."""
    node.workerinput[WORKER_KEY] = str(_run_dir)
    node.workerinput[WORKER_KEY + "_pid"] = str(_controller_pid)


def _scenario_key(feature_filename: str, scenario_name: str) -> tuple[str, str]:
    try:
        rel = Path(feature_filename).resolve().relative_to(FEATURES_DIR).as_posix()
    except ValueError:
        rel = Path(feature_filename).resolve().as_posix()
    return rel, scenario_name


def pytest_bdd_after_scenario(request, feature, scenario) -> None:
    if _run_dir is None:
        return
    rel, name = _scenario_key(feature.filename, scenario.name)
    records: list = []
    if "kasane" in request.fixturenames:
        kasane = request.getfixturevalue("kasane")
        with kasane.transaction() as session:
            records = coverage.database_records(session)
    digest = hashlib.sha1(request.node.nodeid.encode("utf-8")).hexdigest()[:16]
    worker = getattr(request.config, "workerinput", {}).get("workerid", "main")
    header = {"feature": rel, "scenario": name, "nodeid": request.node.nodeid, "worker": worker}
    _run_dir.mkdir(parents=True, exist_ok=True)
    (_run_dir / "pid").write_text(str(_controller_pid))  # before any dump: see _remove_ended_runs
    coverage.write_dump(_run_dir / f"{worker}-{digest}.jsonl", records, header)


def expected_scenarios() -> set[tuple[str, str]]:
    """Every scenario of every feature file under features/."""
    from pytest_bdd.feature import get_features

    if not FEATURES_DIR.is_dir():
        return set()
    return {_scenario_key(f.filename, name)
            for f in get_features([str(FEATURES_DIR)]) for name in f.scenarios}


def _models() -> list[coverage.ProcessModel]:
    """The main pathway, then the processes it calls (empty if it is not modelled)."""
    if not WORKFLOWS_DIR.is_dir():
        return []
    try:
        files = coverage.read_model_dir(WORKFLOWS_DIR)
        main = coverage.find_process(files, PATHWAY)
    except KasaneError:
        return []
    models = [main]
    for called in main.called:
        try:
            models.append(coverage.find_process(files, called))
        except KasaneError:
            pass
    return models


def pytest_sessionfinish(session, exitstatus) -> None:
    global _outcome
    if not _is_controller(session.config) or _run_dir is None or not _run_dir.is_dir():
        return
    try:
        headers = coverage.read_dump_headers(_run_dir)
    except KasaneError:
        headers = []
    if not headers:
        return  # no feature scenario ran
    ran = {(h.get("feature"), h.get("scenario")) for h in headers}
    expected = expected_scenarios()
    models = _models()
    records = coverage.read_dumps(_run_dir)
    reports = [coverage.coverage_report(model, records) for model in models]
    report = reports[0] if reports else None
    whole = bool(expected) and expected <= ran
    _outcome = {"report": report, "called": reports[1:], "whole": whole,
                "ran": len(ran & expected), "expected": len(expected)}
    if report is not None:
        (_run_dir / "report.json").write_text(
            json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    if whole and report is not None and report["flows"]["missing"]:
        _outcome["failed"] = True
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _outcome is None or not _is_controller(config):
        return
    report = _outcome["report"]
    tr = terminalreporter
    tr.section("kasane spec coverage")
    if report is None:
        tr.write_line(f"パスウェイ「{PATHWAY}」のモデルが {WORKFLOWS_DIR} にありません。")
        return
    scope = ("features/ 全体" if _outcome["whole"]
             else f"一部のシナリオのみ ({_outcome['ran']}/{_outcome['expected']})、判定なし")
    tr.write_line(f"{coverage.summary_line(report)} [{scope}] ステップ記録: {_run_dir}")
    for called in _outcome["called"]:
        tr.write_line(f"  呼び出すプロセス {coverage.summary_line(called)}")
    if report["flows"]["missing"] and _outcome["whole"]:
        text = coverage.render_text(report).split("\n", 1)[1]
        tr.write_line(text, red=_outcome.get("failed", False))
    if _outcome.get("failed"):
        tr.write_line(f"FAILED: パスウェイ「{PATHWAY}」に一度も通っていないシーケンスフローがあります。",
                      red=True, bold=True)
