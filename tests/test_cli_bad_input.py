"""Every bad value on the command line gets the documented exit code and a JSON error that
names what was wrong, and leaves the database as it was: never a traceback."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, func, select

import forms
from engine import clock
from engine.store import AuditEntry, Case, HistoryEntry, HumanTask, Record, User
from tests.conftest import ROOT

WORLD_TABLES = (User, Case, HumanTask, HistoryEntry, Record)


def cli(database_url, *args, env=None, stdin=None):
    environment = {**os.environ, "KASANE_DATABASE_URL": database_url, "KASANE_NOW": "2025-04-07",
                   **(env or {})}
    return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], env=environment,
                          input=stdin, capture_output=True, text=True, timeout=120)


def counts(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        result = tuple(conn.execute(select(func.count()).select_from(m.__table__)).scalar()
                       for m in WORLD_TABLES)
        result += tuple(conn.execute(select(Case.version_id).order_by(Case.id)).scalars())
    engine.dispose()
    return result


@pytest.fixture
def world(kasane, database_url):
    clock.set_now("2025-04-07")
    kasane.deploy([ROOT / "workflows"])
    kasane.add_user("yamada", ["包括化推進員"])
    case = kasane.open_case("jusou", "yamada")
    return {"url": database_url, "case": case["case_id"], "task": case["tasks"][0]["task_id"]}


def refused(result, code: int, *words: str) -> dict:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and result.stdout == ""
    error = json.loads(result.stderr)
    assert set(error) >= {"error", "fields"}
    text = json.dumps(error, ensure_ascii=False)
    assert all(word in text for word in words), text
    return error


@pytest.mark.parametrize("value", ["garbage", "2025-13-01", "9999-12-31T23:59:59-12:00",
                                   "0001-01-01T00:00:00+09:00"])
@pytest.mark.parametrize("command", [["case", "open", "jusou", "--as", "yamada"], ["timers", "run"],
                                     ["tasks"]])
def test_a_bad_clock_is_refused_before_any_command_runs(world, value, command):
    before = counts(world["url"])
    refused(cli(world["url"], *command, env={"KASANE_NOW": value}), 1, "日")
    refused(cli(world["url"], "--now", value, *command), 1, "日")
    assert counts(world["url"]) == before


def test_timers_run_now_out_of_range_is_refused(world):
    refused(cli(world["url"], "timers", "run", "--now", "9999-12-31T23:59:59-12:00"), 1, "now")


@pytest.mark.parametrize("data, words", [
    ("[" * 20_000 + "]" * 20_000, ("--data",)),
    ('{"x": ' + "[" * 30 + "]" * 30 + "}", ("入れ子",)),
    ('{"受付日": ' + "9" * 5001 + "}", ("数値",)),
    ('{"受付者": "\\ud800"}', ("受付者",)),
    ("{not json", ("JSON",)),
    ('["a list"]', ("オブジェクト",)),
])
def test_bad_data_is_refused_with_a_json_error(world, data, words):
    before = counts(world["url"])
    refused(cli(world["url"], "task", "complete", world["task"], "--as", "yamada", "--data", data),
            1, *words)
    assert counts(world["url"]) == before


def test_data_may_come_from_a_file_or_standard_input(world, tmp_path):
    payload = json.dumps({**forms.example_values("相談受付"), "対応": "ネットワーク対応"},
                         ensure_ascii=False)
    (tmp_path / "intake.json").write_text(payload, encoding="utf-8")
    done = cli(world["url"], "task", "complete", world["task"], "--as", "yamada",
               "--data", f"@{tmp_path / 'intake.json'}")
    assert done.returncode == 0, done.stderr
    network = json.loads(done.stdout)["tasks"][0]
    data = json.dumps({**forms.example_values("ネットワーク対応記録"), "結果": "解決"}, ensure_ascii=False)
    finished = cli(world["url"], "task", "complete", network["task_id"], "--as", "yamada",
                   "--data", "-", stdin=data)
    assert finished.returncode == 0 and json.loads(finished.stdout)["status"] == "closed"
    refused(cli(world["url"], "task", "complete", network["task_id"], "--as", "yamada",
                "--data", "@/no/such/file.json"), 2, "ファイル")


@pytest.mark.parametrize("args", [
    ["case", "show", "99999999999999999999"],
    ["case", "show", "１"],              # a full-width digit is not the case 1
    ["case", "show", "١"],
    ["tasks", "--case", "9223372036854775808"],
    ["task", "complete", "x" * 100, "--as", "yamada"],
    ["meeting", "show", "99999999999999999999"],
    ["case", "record", "1", "99999999999999999999"],
])
def test_ids_out_of_range_or_not_ascii_are_not_found(world, args):
    refused(cli(world["url"], *args), 2, "見つかりません")


def test_names_longer_than_their_column_are_refused_alike_on_both_databases(world):
    before = counts(world["url"])
    refused(cli(world["url"], "users", "add", "u" * 101, "--role", "包括化推進員"), 1, "100文字")
    refused(cli(world["url"], "agency", "add", "a" * 201, "--kind", "市福祉課"), 1, "200文字")
    assert counts(world["url"]) == before


def test_an_event_with_bad_data_is_invalid_input_before_the_stage_is_checked(world):
    # The case waits for no 状況変化 yet (exit 3 with good data), but bad data is exit 1.
    refused(cli(world["url"], "case", "event", world["case"], "状況変化", "--as", "yamada",
                "--data", '{"内容": ""}'), 1, "内容")
    refused(cli(world["url"], "case", "event", world["case"], "状況変化", "--as", "yamada",
                "--data", '{"内容": "入院"}'), 3, "状況変化")


def test_click_speaks_japanese(world):
    usage = refused(cli(world["url"], "case", "open"), 2)
    assert "PATHWAY" in usage["error"] and "Missing" not in usage["error"]
    assert "ありません" in refused(cli(world["url"], "no-such-command"), 2)["error"]
    helped = cli(world["url"], "tasks", "--help")
    assert helped.returncode == 0 and "この説明を表示して終了する" in helped.stdout
    assert "Show this message" not in helped.stdout and "task_id" in helped.stdout
    data_help = cli(world["url"], "task", "complete", "--help").stdout
    assert "JSON" in data_help and "kasane form" in data_help


def test_a_denied_read_is_audited_and_carries_no_personal_data(world, kasane):
    kasane.add_agency("よその包括", "地域包括支援センター")
    kasane.add_user("other", ["包括化推進員"], "よその包括")
    kasane.complete_task(world["task"], "yamada", {**forms.example_values("相談受付"),
                                                     "対応": "ネットワーク対応"})
    result = cli(world["url"], "case", "show", world["case"], "--as", "other")
    refused(result, 2, "見つかりません")
    assert "重 花子" not in result.stderr
    engine = create_engine(world["url"])
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.actor, AuditEntry.allowed, AuditEntry.channel)
                            .where(AuditEntry.action == "case.show")).all()
    engine.dispose()
    assert ("other", False, "cli") in rows
