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
from engine.errors import InvalidInput, ModelFailure
from engine.store import (AuditEntry, Case, Consent, Draft, HistoryEntry, HumanTask, Incident,
                          Meeting, MeetingAttendee, Member, Record, User)
from tests.conftest import ROOT

WORLD_TABLES = (User, Case, HumanTask, HistoryEntry, Record, Incident, Member, Consent, Meeting,
                MeetingAttendee, Draft)


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


@pytest.mark.parametrize(("value", "words"), [
    ("garbage", "読めません"), ("2025-13-01", "読めません"),
    # past what a date can hold in UTC, or only past the clock's range: both say the range
    ("9999-12-31T23:59:59-12:00", "1900 年から 8999 年"), ("0001-01-01T00:00:00+09:00", "1900 年から 8999 年"),
    ("9999-12-31", "1900 年から 8999 年"),
])
@pytest.mark.parametrize("command", [["case", "open", "jusou", "--as", "yamada"], ["timers", "run"],
                                     ["tasks"]])
def test_a_bad_clock_is_refused_before_any_command_runs(world, value, words, command):
    before = counts(world["url"])
    by_environment = refused(cli(world["url"], *command, env={"KASANE_NOW": value}), 1, words, value)
    by_option = refused(cli(world["url"], "--now", value, *command), 1, words, value)
    assert by_environment == by_option  # the same words, however the clock is given
    if command == ["timers", "run"]:
        assert refused(cli(world["url"], "timers", "run", "--now", value), 1, words) == by_option
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


# Values JSON text can carry but no database column can keep (PostgreSQL refuses NaN and
# infinity in JSON, SQLite keeps them), and integers past MAX_INT_BITS or Python's 4,300 digits.
UNSTORABLE = ("NaN", "-Infinity", "1e999", "9" * 2000, "9" * 5001)


@pytest.mark.parametrize("command", [
    ["case", "open", "jusou", "--as", "yamada"],
    ["task", "complete", "{task}", "--as", "yamada"],
    ["case", "event", "{case}", "状況変化", "--as", "yamada"],
], ids=["open", "complete", "event"])
def test_values_no_database_can_keep_are_refused_naming_the_field(world, command):
    before = counts(world["url"])
    for value in UNSTORABLE:
        args = [a.format(task=world["task"], case=world["case"]) for a in command]
        error = refused(cli(world["url"], *args, "--data", '{"受付者": "山田", "内容": [1, {"値": %s}]}'
                            % value), 1, "内容（2行目）の値")
        assert "Exceeds" not in error["error"] and "sys." not in error["error"]
    assert counts(world["url"]) == before


def test_the_api_refuses_unstorable_values_before_any_model_code_runs(world, kasane):
    before = counts(world["url"])
    bad = {"受付者": float("nan")}
    deep: list = []
    for _ in range(60):  # past MAX_DATA_DEPTH
        deep = [deep]
    for call in (lambda: kasane.open_case("jusou", "yamada", {"x": float("inf")}),
                 lambda: kasane.open_case("jusou", "yamada", {"x": 10 ** 2000}),
                 lambda: kasane.complete_task(world["task"], "yamada", bad),
                 lambda: kasane.send_event(world["case"], "状況変化", "yamada", {"内容": float("nan")}),
                 lambda: kasane.save_draft(world["task"], "yamada", bad),
                 lambda: kasane.save_draft(world["task"], "yamada", {"x": deep})):
        with pytest.raises(InvalidInput) as refusal:
            call()
        assert not isinstance(refusal.value, ModelFailure), refusal.value.message
        assert refusal.value.fields and "保存できない" in refusal.value.message, refusal.value.to_dict()
    assert counts(world["url"]) == before


@pytest.mark.parametrize("args", [
    ["case", "show", "{case}", "--as", "{bad}"],
    ["case", "search", "{bad}"],
    ["agency", "add", "{bad}", "--kind", "市福祉課"],
    ["audit", "--person", "{bad}"],
    ["task", "complete", "{bad}", "--as", "yamada"],
    ["tasks", "--stage", "{bad}"],
], ids=lambda args: " ".join(a for a in args[:2]))
def test_arguments_that_are_not_utf_8_are_refused_alike_on_both_databases(world, args):
    """Bytes that are not UTF-8 reach Python as lone surrogates, which neither database
    driver encodes: once a UnicodeEncodeError traceback."""
    before = counts(world["url"])
    bad = os.fsdecode(b"\xff\xfe")
    refused(cli(world["url"], *[a.format(case=world["case"], bad=bad) for a in args]), 1, "使えない文字")
    assert counts(world["url"]) == before


def test_a_nul_character_is_refused_naming_the_field(world, kasane):
    before = counts(world["url"])
    data = json.dumps({**forms.example_values("相談受付"), "氏名": "重\u0000花子"})
    refused(cli(world["url"], "task", "complete", world["task"], "--as", "yamada", "--data", data),
            1, "氏名", "NUL")
    for call in (lambda: kasane.add_user("a\x00b", ["包括化推進員"]),
                 lambda: kasane.search_cases("重\x00"),
                 lambda: kasane.list_tasks(role="\x00"),
                 lambda: kasane.show_case(world["case"], "yamada\x00")):
        with pytest.raises(InvalidInput, match="使えない文字"):
            call()
    assert counts(world["url"]) == before


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


# Past the INTEGER columns (32 bits on PostgreSQL) but below 2**63: once a traceback there.
BIG_IDS = ("2147483648", "9223372036854775807")


@pytest.mark.parametrize("args", [
    ["case", "show", "{id}"],
    ["case", "record", "{id}", "1"],
    ["case", "record", "{case}", "{id}"],
    ["case", "event", "{id}", "状況変化", "--as", "yamada", "--data", '{{"内容": "入院"}}'],
    ["case", "migrate", "{id}"],
    ["case", "migrate", "{id}", "--preview"],
    ["case", "migrate", "{case}", "--to", "{id}"],
    ["case", "revert-migration", "{id}"],
    ["tasks", "--case", "{id}"],
    ["meeting", "show", "{id}"],
    ["meeting", "ack", "{id}", "--as", "yamada"],
    ["audit", "--case", "{id}"],
    ["pathway", "diff", "jusou", "1", "{id}"],
], ids=lambda args: " ".join(a for a in args[:3] if not a.startswith("{")))
def test_ids_past_the_id_columns_are_not_found(world, args):
    before = counts(world["url"])
    for number in BIG_IDS:
        command = [a.format(id=number, case=world["case"]) for a in args]
        refused(cli(world["url"], *command), 2, number, "ありません" if "diff" in args or "--to" in args
                else "見つかりません")
    assert counts(world["url"]) == before


def open_task(kasane, case_id, name: str) -> dict:
    return next(t for t in kasane.list_tasks(case_id) if t["name"] == name)


def complete(kasane, case_id, name: str, actor: str, **values) -> dict:
    task = open_task(kasane, case_id, name)
    return kasane.complete_task(task["task_id"], actor, {**forms.example_values(task["form"]), **values})


@pytest.fixture
def meeting_due(world, kasane):
    """The world's case at 同意確認 and 支援会議記録 (after 多機関協働 and 受理)."""
    kasane.add_user("tanaka", ["相談支援コーディネーター"])
    complete(kasane, world["case"], "相談受付", "yamada", 対応="多機関協働")
    complete(kasane, world["case"], "受理判断", "tanaka", 判断="受理", WG会議=False)
    complete(kasane, world["case"], "同意確認", "tanaka", 同意="なし")
    return world


def test_a_meeting_number_past_the_id_column_in_a_form_is_invalid_input(meeting_due, kasane):
    task = open_task(kasane, meeting_due["case"], "支援会議記録")
    before = counts(meeting_due["url"])
    for number in BIG_IDS:
        data = {**forms.example_values("支援会議記録"), "会議番号": number}
        refused(cli(meeting_due["url"], "task", "complete", task["task_id"], "--as", "tanaka",
                    "--data", json.dumps(data, ensure_ascii=False)), 1, "会議番号", number)
    assert counts(meeting_due["url"]) == before


@pytest.fixture
def consent_due(world, kasane):
    """The world's case at 同意確認 (after 多機関協働 and 受理)."""
    kasane.add_user("tanaka", ["相談支援コーディネーター"])
    complete(kasane, world["case"], "相談受付", "yamada", 対応="多機関協働")
    complete(kasane, world["case"], "受理判断", "tanaka", 判断="受理", WG会議=False)
    return world


def assessment_due(world, kasane):
    complete(kasane, world["case"], "同意確認", "tanaka", 同意="あり")
    return world


def row(key: str, field: str, **values) -> list:
    example = next(s for s in forms.field_specs(key) if s["name"] == field)["example"][0]
    return [{**example, **values}]


# (task, its case's state, field named in the error, form values): each one past the
# column its value lands in (a member's name, a consent's 代理人続柄, a meeting's name …).
TOO_LONG = [
    ("相談受付", "world", "氏名", {"氏名": "長" * 201}),
    ("相談受付", "world", "ふりがな", {"ふりがな": "な" * 201}),
    ("同意確認", "consent_due", "代理人続柄", {"代理人続柄": "続" * 60}),
    ("同意確認", "consent_due", "説明者", {"説明者": "説" * 201}),
    ("同意確認", "consent_due", "対象者", {"対象者": "対" * 201}),
    ("支援会議記録", "meeting_due", "会議名称", {"会議名称": "会" * 250}),
    ("支援会議記録", "meeting_due", "構成員（1行目）の氏名",
     {"構成員": row("支援会議記録", "構成員", 氏名="氏" * 201)}),
    ("支援会議記録", "meeting_due", "構成員（1行目）の所属",
     {"構成員": row("支援会議記録", "構成員", 所属="所" * 201)}),
    ("アセスメント", "assessment_due", "世帯員（1行目）の氏名",
     {"世帯員": row("アセスメント", "世帯員", 氏名="世" * 201)}),
]


@pytest.mark.parametrize(("task", "state", "field", "values"), TOO_LONG,
                         ids=[f"{t[0]}.{t[2]}" for t in TOO_LONG])
def test_form_values_longer_than_their_columns_are_refused_on_both_databases(
        request, kasane, task, state, field, values):
    if state == "assessment_due":
        world = assessment_due(request.getfixturevalue("consent_due"), kasane)
    else:
        world = request.getfixturevalue(state)
    actor = "yamada" if task == "相談受付" else "tanaka"
    open_one = open_task(kasane, world["case"], task)
    before = counts(world["url"])
    data = json.dumps({**forms.example_values(task), **values}, ensure_ascii=False)
    error = refused(cli(world["url"], "task", "complete", open_one["task_id"], "--as", actor,
                        "--data", data), 1, "文字以内で入力してください")
    assert list(error["fields"]) == [field], error
    assert counts(world["url"]) == before


def test_values_that_fit_their_columns_are_kept_whole(consent_due, kasane):
    """The longest values the forms take, names that NFKC makes longer (㍿ is 株式会社) and a
    情報範囲 given twice all fit on both databases."""
    case = consent_due["case"]
    complete(kasane, case, "同意確認", "tanaka", 同意="あり", 対象者="㍿" * 200, 代理人続柄="続" * 50,
             説明者="説" * 200, 情報範囲=["介護"] * 100 + ["基本情報"])
    complete(kasane, case, "アセスメント", "tanaka",
             世帯員=row("アセスメント", "世帯員", 氏名="世" * 200))
    shown = kasane.show_case(case)
    names = {m["氏名"] for m in shown["household"]}
    assert {"㍿" * 200, "世" * 200} <= names
    [consent] = [c for m in shown["household"] for c in m["consents"]]
    assert consent["代理人続柄"] == "続" * 50 and consent["情報範囲"] == ["介護", "基本情報"]
    assert kasane.search_cases("株式会社")[0]["case_id"] == case


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
    assert "パスウェイ" in usage["error"] and "Missing" not in usage["error"]
    assert "ありません" in refused(cli(world["url"], "no-such-command"), 2)["error"]
    assert refused(cli(world["url"], "tasks", "--limit", "5000"), 2)["error"] == \
        "'--limit' の値が正しくありません: 5000 は範囲 1〜1000 の外です。"
    assert refused(cli(world["url"], "tasks", "--limit", "x"), 2)["error"] == \
        "'--limit' の値が正しくありません: 'x' は正しい整数ではありません。"
    helped = cli(world["url"], "tasks", "--help")
    assert helped.returncode == 0 and "この説明を表示して終了する" in helped.stdout
    assert "Show this message" not in helped.stdout and "task_id" in helped.stdout
    assert helped.stdout.startswith("使い方: kasane tasks [オプション]\n")
    assert "--limit 件数" in helped.stdout and "[1〜1000]" in helped.stdout
    assert cli(world["url"], "--help").stdout.startswith("使い方: kasane [オプション] コマンド [引数]...\n")
    data_help = " ".join(cli(world["url"], "task", "complete", "--help").stdout.split())
    assert "JSON" in data_help and "kasane form" in data_help and "[必須]" in data_help


# Words that stay as they are in Japanese help: formats, standards and a variable name.
KEPT_WORDS = {"JSON", "JSONL", "ISO", "KASANE_NOW", "BPMN", "DMN", "CSV", "UTF", "BOM", "WG", "ID"}


def _commands(command, path=()):
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_every_help_text_is_japanese():
    """Usage lines, value names (no TEXT, INTEGER RANGE), [必須] and ranges (1〜1000), and
    the columns lined up by their width on screen."""
    import re

    from click.testing import CliRunner

    from engine.cli import cli as kasane
    from engine.cli_ja import display_width
    runner = CliRunner()
    for path in _commands(kasane):
        shown = runner.invoke(kasane, [*path, "--help"], prog_name="kasane")
        assert shown.exit_code == 0, (path, shown.output)
        english = set(re.findall(r"[A-Z][A-Z_]{1,}", shown.output)) - KEPT_WORDS
        assert not english, (path, english, shown.output)
        assert not re.search(r"\[required\]|<=x|Usage|Options|Commands", shown.output), shown.output
        options = shown.output.split("オプション:\n")[1].split("\n\n")[0].splitlines()
        starts = {display_width(line) - display_width(line[2:].split("  ", 1)[1].lstrip())
                  for line in options if "  " in line[2:]}
        assert len(starts) == 1, (path, options)  # every help text starts in one column


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
    # The person's own access log (a request about who looked at their file) shows it.
    logged = cli(world["url"], "audit", "--person", "重 花子", "--csv")
    assert logged.returncode == 0
    assert any(line.split(",")[1:3] == ["other", "よその包括"] and ",case.show,拒否," in line
               for line in logged.stdout.splitlines())
