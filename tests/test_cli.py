"""The CLI contract, driven as an outside tool would: a real process, JSON and exit codes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select

from engine.store import Case, Deployment, HistoryEntry, HumanTask, User
from tests.conftest import MODELS


@pytest.fixture
def run(database_url):
    env = {**os.environ, "KASANE_DATABASE_URL": database_url, "KASANE_NOW": "2025-04-07"}

    def run(*args, code=0):
        result = subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)],
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        if code == 0:
            return json.loads(result.stdout)
        return json.loads(result.stderr) if result.stderr.strip() else json.loads(result.stdout)
    return run


def snapshot(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        counts = tuple(conn.execute(select(func.count()).select_from(m.__table__)).scalar()
                       for m in (Deployment, User, Case, HumanTask, HistoryEntry))
        versions = tuple(conn.execute(select(Case.version_id).order_by(Case.id)).scalars())
    engine.dispose()
    return counts, versions


def test_cli_contract_end_to_end(run, database_url):
    assert run("db", "upgrade") == {"ok": True}
    linted = run("lint", MODELS / "sample.bpmn")
    assert (linted["ok"], linted["problems"]) == (True, [])
    assert {w["element"] for w in linted["warnings"]} == {"Lane_coord", "Lane_intake"}  # nobody holds them yet
    assert run("deploy", MODELS / "sample.bpmn") == [{"pathway": "sample", "version": 1, "new": True}]
    assert run("deploy", MODELS / "sample.bpmn")[0]["new"] is False
    run("users", "add", "tanaka", "--role", "相談支援コーディネーター", "--agency", "まるごと相談室",
        code=1)  # an unknown agency
    assert run("agency", "add", "まるごと相談室", "--kind", "福祉まるごと相談室") == \
        {"agency": "まるごと相談室", "kind": "福祉まるごと相談室", "default": False}
    run("agency", "add", "まるごと相談室", "--kind", "存在しない種別", code=1)
    run("users", "add", "tanaka", "--role", "相談支援コーディネーター", "--agency", "まるごと相談室")
    run("users", "add", "suzuki", "--role", "包括化推進員")
    run("users", "add", "typo", "--role", "存在しない役割", code=1)

    case = run("case", "open", "sample", "--as", "suzuki", "--data", '{"相談者": "重 花子"}')
    assert set(case) == {"case_id", "pathway", "version", "status", "stage", "tasks", "timers", "data",
                         "access"}
    assert case["access"] == "receiving"
    assert case["stage"] == "多機関協働" and case["status"] == "open"
    [task] = case["tasks"]
    assert set(task) == {"task_id", "name", "role", "form", "due", "overdue", "element"}
    assert [t["name"] for t in case["timers"]] == ["督促"]
    assert run("tasks", "--role", "相談支援コーディネーター")[0]["task_id"] == task["task_id"]
    assert run("tasks", "--case", case["case_id"], "--role", "包括化推進員") == []

    before = snapshot(database_url)
    error = run("task", "complete", task["task_id"], "--as", "tanaka",
                "--data", '{"判断": "保留"}', code=1)
    assert error["fields"] == {"判断日": "必須項目です。", "判断": "選択肢から選んでください。"}
    error = run("task", "complete", task["task_id"], "--as", "suzuki",
                "--data", '{"判断日": "2025-04-07", "判断": "受理"}', code=4)
    assert "相談支援コーディネーター" in error["error"]
    run("task", "complete", task["task_id"], "--as", "tanaka", "--data", "{not json", code=1)
    run("case", "event", case["case_id"], "状況変化", "--as", "tanaka",
        "--data", '{"内容": "入院"}', code=3)
    assert snapshot(database_url) == before

    swept = run("timers", "run", "--now", "2025-04-10T09:00:00+09:00")
    assert swept == {"fired": 1, "cases": 1, "incidents": 0, "timers": [
        {"case_id": case["case_id"], "name": "督促", "element": "reminder",
         "due": "2025-04-10T09:00:00+09:00"}]}
    assert run("timers", "run", "--now", "2025-04-10T09:00:00+09:00") == \
        {"fired": 0, "cases": 0, "incidents": 0, "timers": []}
    tasks = {t["name"]: t for t in run("tasks", "--case", case["case_id"])}
    assert set(tasks) == {"受理判断", "督促確認"}

    after = run("task", "complete", task["task_id"], "--as", "tanaka",
                "--data", '{"判断日": "2025-04-10", "判断": "受理"}')
    assert after["stage"] == "アセスメント"
    consent = next(t for t in after["tasks"] if t["name"] == "同意確認")
    after = run("task", "complete", consent["task_id"], "--as", "tanaka",
                "--data", '{"対象者": "重 花子", "同意": "あり"}')
    assert after["stage"] == "支援実施"
    done = run("case", "event", case["case_id"], "状況変化", "--as", "tanaka",
               "--data", '{"内容": "入院"}')
    assert done["status"] == "closed" and done["stage"] == "終結"
    shown = run("case", "show", case["case_id"])
    assert [h["kind"] for h in shown["history"]] == [
        "opened", "timer_fired", "task_completed", "task_completed", "event"]


def test_cli_errors_use_the_documented_codes_and_store_nothing(run, database_url):
    run("deploy", MODELS / "sample.bpmn")
    run("users", "add", "tanaka", "--role", "相談支援コーディネーター")
    before = snapshot(database_url)
    refused = run("deploy", MODELS / "bad" / "malformed.bpmn", code=1)
    assert refused["problems"][0]["file"] == "malformed.bpmn"
    refused = run("deploy", MODELS / "bad" / "unsafe.bpmn", code=1)
    assert refused["problems"] == [{"file": "unsafe.bpmn", "element": "f_attack",
                                    "message": "使用できない式です: 使用できない名前です: __import__"}]
    lint = run("lint", MODELS / "bad", code=1)
    assert lint["ok"] is False and {p["file"] for p in lint["problems"]} == {"malformed.bpmn", "unsafe.bpmn"}
    run("users", "add", "tanaka", "--role", "包括化推進員", code=3)
    run("case", "show", "12345", code=2)
    run("case", "open", "nothing", "--as", "tanaka", code=2)
    run("case", "open", "sample", "--as", "nobody", code=2)
    run("task", "complete", "no-such-task", "--as", "tanaka", code=2)
    run("deploy", "no/such/path", code=2)
    usage = run("case", "open", code=2)
    assert "パスウェイ" in usage["error"]  # the argument, by its Japanese name
    run("no-such-command", code=2)
    run("form", "存在しない", code=2)
    assert snapshot(database_url) == before
    shown = run("form", "受理判断")
    assert shown["title"] == "受理判断" and shown["example"]["判断"] == "受理"
    decision = next(f for f in shown["fields"] if f["name"] == "判断")
    assert decision["required"] and decision["choices"] == ["受理", "差し戻し"]


def test_users_add_reads_a_password_from_stdin(database_url, kasane):
    kasane.deploy([MODELS / "sample.bpmn"])
    env = {**os.environ, "KASANE_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "engine.cli", "users", "add", "yamada", "--role",
               "包括化推進員", "--password-stdin"]
    result = subprocess.run(command, input="correct horse\n", env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "correct horse" not in result.stdout
    assert kasane.verify_password("yamada", "correct horse")["name"] == "yamada"
    assert kasane.verify_password("yamada", "correct horsE") is None
    assert kasane.verify_password("nobody", "correct horse") is None
    short = subprocess.run([*command[:5], "sato", *command[6:]], input="short\n", env=env,
                           capture_output=True, text=True, timeout=60)
    assert short.returncode == 1 and "8文字以上" in json.loads(short.stderr)["error"]


def test_agencies_and_their_kinds_are_registered(run):
    listed = run("agency", "list")
    assert listed == [{"agency": "市福祉課", "kind": "市福祉課", "default": True}]
    kinds = run("agency", "kinds")
    assert "地域包括支援センター" in kinds and "アウトリーチ事業者" in kinds
    assert run("agency", "kinds", "--add", "地域生活定着支援センター")[-1] == "地域生活定着支援センター"
    run("agency", "add", "定着センター", "--kind", "地域生活定着支援センター")
    run("agency", "add", "定着センター", "--kind", "地域生活定着支援センター", code=3)
    run("agency", "add", "x" * 201, "--kind", "市福祉課", code=1)
    assert [a["agency"] for a in run("agency", "list")] == ["市福祉課", "定着センター"]


def test_tasks_pages_and_filters_overdue_and_mine(run, kasane):
    from engine import clock
    clock.set_now("2025-04-07")
    kasane.deploy([MODELS / "sample.bpmn"])
    kasane.add_user("tanaka", ["相談支援コーディネーター"])
    opened = [kasane.open_case("sample", "tanaka")["case_id"] for _ in range(5)]
    page = run("tasks", "--as", "tanaka", "--limit", "2")
    assert len(page) == 2 and all(t["overdue"] is False for t in page)
    rest = run("tasks", "--as", "tanaka", "--limit", "10", "--after", page[-1]["cursor"])
    assert sorted(t["case_id"] for t in page + rest) == opened  # every task once, in two pages
    assert run("tasks", "--overdue") == []
    late = run("--now", "2025-04-20", "tasks", "--overdue", "--role", "相談支援コーディネーター")
    assert late and all(t["overdue"] for t in late)
    claimed = page[0]["task_id"]
    assert run("task", "claim", claimed, "--as", "tanaka")["claimed_by"] == "tanaka"
    assert [t["task_id"] for t in run("tasks", "--mine", "--as", "tanaka")] == [claimed]
    run("task", "release", claimed, "--as", "tanaka")
    assert run("tasks", "--mine", "--as", "tanaka") == []
    run("tasks", "--after", "not-a-cursor", code=1)
