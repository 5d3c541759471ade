"""Every engine call and every CLI command leaves exactly the audit rows it should.

The lists below are walked from the code itself (the public methods of ``Kasane``, the
commands of the click group), so a method or command added without saying what it audits
fails here. Each entry runs the call on a small household and compares the rows it added:
(actor, action, allowed, case, member, meeting). An entry that leaves no row says why.
"""
from __future__ import annotations

import inspect
import json

import click
from click.testing import CliRunner
from sqlalchemy import select

import forms
from engine import cli, clock
from engine.api import Kasane
from engine.errors import KasaneError
from engine.store import AuditEntry
from tests.conftest import ROOT
from tests.policy_world import SON, household

OPERATOR = None
ANY = object()  # a case opened by the call itself
# Not engine calls: the facade's own plumbing.
PLUMBING = {"via", "transaction", "reading", "close"}
NO_ROWS = {  # engine calls that show no case, person, meeting or model, and why
    "upgrade_database": "sets up the database's tables; there is nobody and nothing to record yet",
    "lint": "checks the model files it is given",
    "list_agencies": "the agency register", "list_agency_kinds": "the agency kinds",
    "get_user": "who a signed-in user is, asked on each web request (sign-in itself is audited)",
    "count_tasks": "a number for the header; it shows no case",
    "task_stages": "the stage names of the deployed models (the inbox's filter)",
    "first_task": "the first user task of a model (the new consultation's form); no case",
}


def row(actor, action, allowed=True, case=None, member=None, meeting=None):
    return (actor, action, allowed, case, member, meeting)


class Ids:
    """The household's ids, read once it is built."""

    def __init__(self, world, kasane):
        shown = kasane.show_case(world.case_id)
        self.case = world.case_id
        members = {m["氏名"]: m["member_id"] for m in shown["household"]}
        self.person, self.son = members[shown["data"]["氏名"]], members[SON]
        self.meeting = world.meeting_id()
        self.intake = world.record_id("相談受付")
        self.visit = world.task("アウトリーチ訪問記録")["task_id"]
        self.files = {path.name: path.read_text(encoding="utf-8")
                      for path in (ROOT / "workflows").iterdir()}
        # A second version of jusou (a new process name), for a migration to go to.
        self.files["jusou.bpmn"] = renamed(self.files["jusou.bpmn"])


def renamed(jusou: str) -> str:
    return jusou.replace('name="重層的支援"', 'name="重層的支援（第2版）"', 1)


def second_version(folder) -> str:
    """workflows/ with jusou renamed: deploying it makes version 2."""
    for path in (ROOT / "workflows").iterdir():
        text = path.read_text(encoding="utf-8")
        (folder / path.name).write_text(renamed(text) if path.name == "jusou.bpmn" else text,
                                        encoding="utf-8")
    return str(folder)


def api_calls(k: Kasane, w, ids: Ids):
    """Method -> [(call, the rows it leaves)], run in this order."""
    visit_data = {**forms.example_values("アウトリーチ訪問記録"), "結果": "接触できず",
                  "次回訪問日": "2025-04-14"}
    c, m = ids.case, ids.meeting
    return {
        "deploy": [(lambda: k.deploy([str(ROOT / "workflows")]), [row(OPERATOR, "pathway.deploy")])],
        "deploy_files": [(lambda: k.deploy_files(ids.files, "boss"), [row("boss", "pathway.deploy")]),
                         (lambda: k.deploy_files(ids.files, "kimura"), [row("kimura", "manage", False)])],
        "pathway_files": [(lambda: k.pathway_files("jusou", actor="boss"), [row("boss", "pathway.files")])],
        "lint_files": [(lambda: k.lint_files(ids.files, "boss"), [row("boss", "pathway.lint")]),
                       (lambda: k.lint_files(ids.files), [])],  # the operator, before a database
        "modeling_vocabulary": [(lambda: k.modeling_vocabulary("boss"), [row("boss", "pathway.vocabulary")]),
                                (lambda: k.modeling_vocabulary("kimura"), [row("kimura", "manage", False)])],
        "save_model_draft": [(lambda: k.save_model_draft("jusou", ids.files, actor="boss"),
                              [row("boss", "pathway.draft")])],
        "add_agency": [(lambda: k.add_agency("東包括", "地域包括支援センター"), [row(OPERATOR, "agency.add")])],
        "add_agency_kind": [(lambda: k.add_agency_kind("新しい種別"), [row(OPERATOR, "agency.kind.add")])],
        "add_user": [(lambda: k.add_user("newbie", ["包括化推進員"], "東包括"), [row(OPERATOR, "user.add")])],
        "verify_password": [(lambda: k.verify_password("yamada", "wrong-password"),
                             [row("yamada", "auth.sign_in", False)])],
        "open_case": [(lambda: k.open_case("jusou", "kimura"), [row("kimura", "case.open", case=ANY)])],
        "open_case_and_complete_first_task": [
            (lambda: k.open_case_and_complete_first_task("jusou", "kimura", forms.example_values("相談受付")),
             [row("kimura", "case.open", case=ANY), row("kimura", "task.complete", case=ANY)])],
        "show_case": [(lambda: k.show_case(c, "kimura"), [row("kimura", "case.show", case=c)]),
                      (lambda: k.show_case(c, "other"), [row("other", "case.show", False, c)]),
                      (lambda: k.show_case(99999, "other"), [row("other", "case.show", False, 99999)])],
        "show_record": [(lambda: k.show_record(c, ids.intake, "kimura"),
                         [row("kimura", "record.show", case=c, member=ids.person)])],
        "send_event": [(lambda: k.send_event(c, "接触記録", "kimura", forms.example_values("接触記録")),
                        [row("kimura", "case.event", case=c)])],
        "search_cases": [(lambda: k.search_cases(SON, "kimura"),
                          [row("kimura", "case.search", case=c, member=ids.son)])],
        "list_tasks": [(lambda: k.list_tasks(case_id=c, actor="kimura"), [row("kimura", "tasks.list", case=c)]),
                       (lambda: k.list_tasks(case_id=99999, actor="other"),
                        [row("other", "tasks.list", False, 99999)])],
        "get_task": [(lambda: k.get_task(ids.visit, "suzuki"), [row("suzuki", "task.show", case=c)])],
        "save_draft": [(lambda: k.save_draft(ids.visit, "suzuki", {"本人の様子": "途中"}),
                        [row("suzuki", "task.draft", case=c)])],
        "claim_task": [(lambda: k.claim_task(ids.visit, "suzuki"), [row("suzuki", "task.claim", case=c)])],
        "release_task": [(lambda: k.release_task(ids.visit, "suzuki"),
                          [row("suzuki", "task.release", case=c)])],
        "case_diagram": [(lambda: k.case_diagram(c, "kimura"), [row("kimura", "case.diagram", case=c)])],
        "complete_task": [(lambda: k.complete_task(ids.visit, "suzuki", visit_data),
                           [row("suzuki", "task.complete", case=c)])],
        "run_timers": [(lambda: (clock.set_now("2025-04-15"), k.run_timers()),
                        [row(OPERATOR, "timers.fire", case=c)])],
        "show_meeting": [(lambda: k.show_meeting(m, "tanaka"),
                          [row("tanaka", "meeting.show", case=c, member=ids.person, meeting=m),
                           row("tanaka", "meeting.show", case=c, member=ids.son, meeting=m)]),
                         (lambda: k.show_meeting(m, "yamada"),
                          [row("yamada", "meeting.show", False, c, meeting=m)])],
        "acknowledge_meeting": [(lambda: k.acknowledge_meeting(m, "yamada"),
                                 [row("yamada", "meeting.ack", case=c, meeting=m)]),
                                (lambda: k.acknowledge_meeting(m, "kimura"),
                                 [row("kimura", "meeting.ack", False, c, meeting=m)])],
        "list_pathways": [(lambda: k.list_pathways("boss"), [row("boss", "pathway.list")])],
        "pathway_diff": [(lambda: k.pathway_diff("jusou", 1, 1, "boss"), [row("boss", "pathway.diff")])],
        "coverage": [(lambda: k.coverage("jusou", "boss"), [row("boss", "pathway.coverage")])],
        "running_cases": [(lambda: k.running_cases("jusou", 1, "boss"), [row("boss", "pathway.cases")])],
        "case_migrations": [(lambda: k.case_migrations(c, "boss"), [row("boss", "case.migrations", case=c)])],
        "preview_migration": [(lambda: k.preview_migration(c, actor="boss"),
                               [row("boss", "case.migrate.preview", case=c)])],
        "migrate_case": [(lambda: k.migrate_case(c, actor="boss"), [row("boss", "case.migrate", case=c)])],
        "revert_migration": [(lambda: k.revert_migration(1, "boss"),
                              [row("boss", "case.migrate.revert", case=c)])],
        "audit_log": [(lambda: k.audit_log("boss", case_id=c), [row("boss", "audit.list", case=c)]),
                      (lambda: k.audit_log("kimura"), [row("kimura", "audit.list", False)])],
    }


def new_rows(kasane, after: int) -> tuple[int, list]:
    kasane.read_audit.flush()
    with kasane.transaction() as session:
        found = list(session.scalars(select(AuditEntry).where(AuditEntry.id > after).order_by(AuditEntry.id)))
    last = found[-1].id if found else after
    return last, [(r.actor, r.action, r.allowed, r.case_id, r.member_id, r.meeting_id) for r in found]


def same(found: list, expected: list) -> bool:
    def match(a, b):
        return all(e is ANY and f is not None or f == e for f, e in zip(a, b))
    return len(found) == len(expected) and all(match(f, e) for f, e in zip(found, expected))


def public_methods() -> set[str]:
    return {name for name, _ in inspect.getmembers(Kasane, inspect.isfunction) if not name.startswith("_")}


def test_every_engine_call_leaves_exactly_its_audit_rows(kasane):
    world = household(kasane)
    ids = Ids(world, kasane)
    calls = api_calls(kasane, world, ids)
    assert public_methods() - PLUMBING == set(calls) | set(NO_ROWS), \
        "a public method of Kasane without audit expectations (or an expectation without a method)"
    last, _ = new_rows(kasane, 0)
    problems = []
    for name, runs in calls.items():
        for call, expected in runs:
            try:
                call()
            except KasaneError:
                pass  # refusals are part of the table; their rows are what is checked
            last, found = new_rows(kasane, last)
            if not same(found, expected):
                problems.append(f"{name}: {found} (expected {expected})")
    for name in NO_ROWS:
        method = getattr(kasane, name)
        args = {"lint": ([str(ROOT / "workflows" / "jusou.bpmn")],),
                "get_user": ("yamada",), "first_task": ("jusou",)}.get(name, ())
        method(*args)
        last, found = new_rows(kasane, last)
        if found:
            problems.append(f"{name}: {found} (expected none: {NO_ROWS[name]})")
    assert problems == []


# --- the CLI ---------------------------------------------------------------------------------

CLI_NO_ROWS = {
    "db upgrade": NO_ROWS["upgrade_database"], "lint": NO_ROWS["lint"],
    "agency list": NO_ROWS["list_agencies"], "agency kinds": NO_ROWS["list_agency_kinds"],
    "form": "prints a form's fields; reads no database",
    "serve": "starts the web server, whose requests call the engine (not run here)",
}


def commands(group: click.Group, prefix: str = "") -> set[str]:
    found = set()
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        found |= commands(command, path + " ") if isinstance(command, click.Group) else {path}
    return found


def cli_calls(w, ids: Ids, folder):
    """Command -> [(arguments, the rows it leaves)]: the same rows as the engine calls it makes."""
    c, m, visit = str(ids.case), str(ids.meeting), ids.visit
    data = json.dumps({**forms.example_values("アウトリーチ訪問記録"), "結果": "接触できず",
                       "次回訪問日": "2025-04-14"}, ensure_ascii=False)
    return {
        "deploy": [(["deploy", second_version(folder), "--as", "boss"], [row("boss", "pathway.deploy")])],
        "agency add": [(["agency", "add", "東包括", "--kind", "地域包括支援センター"], [row(OPERATOR, "agency.add")])],
        "agency kinds --add": [(["agency", "kinds", "--add", "新しい種別"], [row(OPERATOR, "agency.kind.add")])],
        "users add": [(["users", "add", "newbie", "--role", "包括化推進員"], [row(OPERATOR, "user.add")])],
        "case open": [(["case", "open", "jusou", "--as", "kimura"], [row("kimura", "case.open", case=ANY)])],
        "case show": [(["case", "show", c, "--as", "kimura"], [row("kimura", "case.show", case=ids.case)]),
                      (["case", "show", "99999", "--as", "other"], [row("other", "case.show", False, 99999)]),
                      (["case", "show", c], [row(OPERATOR, "case.show", case=ids.case)])],
        "case record": [(["case", "record", c, str(ids.intake), "--as", "kimura"],
                         [row("kimura", "record.show", case=ids.case, member=ids.person)])],
        "case search": [(["case", "search", SON, "--as", "kimura"],
                         [row("kimura", "case.search", case=ids.case, member=ids.son)])],
        "case event": [(["case", "event", c, "接触記録", "--as", "kimura", "--data",
                         json.dumps(forms.example_values("接触記録"), ensure_ascii=False)],
                        [row("kimura", "case.event", case=ids.case)])],
        "tasks": [(["tasks", "--case", c, "--as", "kimura"], [row("kimura", "tasks.list", case=ids.case)]),
                  (["tasks", "--case", "99999", "--as", "other"], [row("other", "tasks.list", False, 99999)])],
        "task claim": [(["task", "claim", visit, "--as", "suzuki"], [row("suzuki", "task.claim", case=ids.case)])],
        "task release": [(["task", "release", visit, "--as", "suzuki"],
                          [row("suzuki", "task.release", case=ids.case)])],
        "task complete": [(["task", "complete", visit, "--as", "suzuki", "--data", data],
                           [row("suzuki", "task.complete", case=ids.case)])],
        "timers run": [(["timers", "run", "--now", "2025-04-15"], [row(OPERATOR, "timers.fire", case=ids.case)])],
        "meeting show": [(["meeting", "show", m, "--as", "tanaka"],
                          [row("tanaka", "meeting.show", case=ids.case, member=ids.person, meeting=ids.meeting),
                           row("tanaka", "meeting.show", case=ids.case, member=ids.son, meeting=ids.meeting)])],
        "meeting ack": [(["meeting", "ack", m, "--as", "yamada"],
                         [row("yamada", "meeting.ack", case=ids.case, meeting=ids.meeting)]),
                        (["meeting", "ack", m, "--as", "kimura"],
                         [row("kimura", "meeting.ack", False, ids.case, meeting=ids.meeting)])],
        "pathway list": [(["pathway", "list", "--as", "boss"], [row("boss", "pathway.list")])],
        "pathway diff": [(["pathway", "diff", "jusou", "1", "1", "--as", "boss"], [row("boss", "pathway.diff")])],
        "coverage": [(["coverage", "jusou", "--as", "boss"], [row("boss", "pathway.coverage")]),
                     (["coverage", "jusou", "--as", "kimura"], [row("kimura", "manage", False)])],
        "case migrate": [(["case", "migrate", c, "--preview", "--as", "boss"],
                          [row("boss", "case.migrate.preview", case=ids.case)]),
                         (["case", "migrate", c, "--as", "boss"], [row("boss", "case.migrate", case=ids.case)])],
        "case revert-migration": [(["case", "revert-migration", "1", "--as", "boss"],
                                   [row("boss", "case.migrate.revert", case=ids.case)])],
        "audit": [(["audit", "--case", c, "--as", "boss"], [row("boss", "audit.list", case=ids.case)]),
                  (["audit", "--person", SON, "--csv"], [row(OPERATOR, "audit.list")])],
        "demo": [(["demo", str(ROOT / "workflows")], None)],  # see test below
    }


def run_cli(url: str, args: list[str]):
    cli._api = None
    result = CliRunner().invoke(cli.cli, args, env={"KASANE_DATABASE_URL": url, "KASANE_NOW": "2025-04-07"})
    if cli._api is not None:
        cli._api.close()
        cli._api = None
    assert "Traceback" not in result.output, result.output
    return result


def test_every_cli_command_leaves_exactly_its_audit_rows(kasane, database_url, tmp_path):
    world = household(kasane)
    ids = Ids(world, kasane)
    calls = cli_calls(world, ids, tmp_path)
    called = {name.removesuffix(" --add") for name in calls}
    assert commands(cli.cli) == called | set(CLI_NO_ROWS), \
        "a CLI command without audit expectations (or an expectation without a command)"
    last, _ = new_rows(kasane, 0)
    problems = []
    for name, runs in calls.items():
        for args, expected in runs:
            result = run_cli(database_url, args)
            last, found = new_rows(kasane, last)
            if expected is None:  # demo: only the rows of the engine calls it makes
                actions = {f[1] for f in found}
                if not found or not actions <= {"pathway.deploy", "agency.add", "user.add", "case.open",
                                                "tasks.list", "task.complete", "timers.fire"}:
                    problems.append(f"{name}: {sorted(actions)}")
                continue
            if not same(found, expected):
                problems.append(f"{name} {args}: exit {result.exit_code}, {found} (expected {expected})")
    for name in ("lint", "agency list", "agency kinds", "form"):
        args = {"lint": ["lint", str(ROOT / "workflows" / "jusou.bpmn")], "form": ["form", "同意確認"]}.get(
            name, name.split())
        run_cli(database_url, args)
        last, found = new_rows(kasane, last)
        if found:
            problems.append(f"{name}: {found} (expected none)")
    assert problems == []
    with kasane.transaction() as session:
        channels = set(session.scalars(select(AuditEntry.channel).where(AuditEntry.actor == "boss")))
    assert channels == {"cli"}
