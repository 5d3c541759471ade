"""The access matrix (tests/access_matrix.py) over HTTP: the real app, signed in as a cell's
user, requests every page and partial that performs the cell's operation, and gets the
engine's answer as a status — allowed 200/303 (or 409/422 where the write is refused for
its data or a stale form), not found 404, forbidden 403; a list (the inbox, the search)
simply leaves the case out — and no body carries a personal value the cell may not see.

A page that calls the engine more than once answers with the first refusal: the form of a
task reads the task (``get_task``) before it completes it, a case event's page reads the
case (``show_case``) before it sends the event. A user who may read the case but not record
the event is not offered its form: a 303 back to the case page.

The product of every profile and operation takes minutes over HTTP. Each operation runs one
cell of every outcome and visibility (those also as htmx partials), then cells until every
pair of role, agency kind, consent state and attendance has run, then the profiles no
operation ran yet, spread over the operations: every profile signs in at least once.

The world is built once per module. The cells only read it, or write what they undo, what
no cell reads (a draft) or what is refused (the matrix's ``BAD_DATA``, a stale case version,
a move to the version the case is on, a migration that does not exist); the writes that
change it (acknowledging the 支援会議, a second version and the case moved to it and back)
run in the last test.

Every route of the app is either mapped to an operation here or listed in NO_CASE_DATA.
"""
from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass, replace
from itertools import combinations

import pytest
from sqlalchemy import update

from engine import clock
from engine.api import Kasane
from engine.store import User
from tests import access_matrix as matrix
from tests.conftest import ROOT
from tests.webui.htmlform import csrf_token
from webui import create_app
from webui.auth import fingerprint

ALLOWED, NOT_FOUND, FORBIDDEN = matrix.ALLOWED, matrix.NOT_FOUND, matrix.FORBIDDEN
REFUSAL_STATUS = {NOT_FOUND: 404, FORBIDDEN: 403}
EVENT = "接触記録"  # an event the world's case waits for (the matrix sends it)
PATHWAY = "jusou"
THROWAWAY_PATHWAY = "アクセス表の下書き"  # a model draft no cell reads
BROKEN_MODEL = {"file:matrix.bpmn": "<definitions>閉じていない"}
# A visit record the form accepts: sent with a case version the case never had, it is
# refused as stale and nothing is kept.
VISIT = {"訪問日": "2025-04-25", "結果": "接触できず", "次回訪問日": "2025-05-02"}

# Routes that show or change no case data, and why.
NO_CASE_DATA = {
    "static": "the app's own CSS, scripts and icons",
    "assets.vendor": "npm files (htmx, bpmn-js) served from node_modules",
    "health.health": "the database answers SELECT 1",
    "auth.login": "the sign-in form (a signed-in user is sent on)",
    "auth.logout": "ends the session",
    "intake.new": "the empty 相談受付 form; posting it opens a new case of the user's own",
    "formpreview.index": "the form keys (TESTING or FORM_PREVIEW only)",
    "formpreview.form": "a form from its metadata with example values, no case",
}


@dataclass(frozen=True)
class Step:
    """One request of an operation. ``calls``: the matrix operations the view calls, in
    order (a list's refusal leaves the case out: the page itself is allowed)."""
    method: str
    path: str                        # formatted with the world: {case}, {task}, …
    calls: tuple[str, ...]
    done: int                        # the status when every call is allowed
    data: tuple = ()                 # POST form fields (the CSRF token is added)
    htmx_done: int | None = None     # the status of the htmx partial, when it differs
    listing: bool = False
    unoffered: str | None = None     # refused, the form is not offered: 303 to the case

    def url(self, world) -> str:
        return self.path.format(case=world.case_id, task=world.visit_task, meeting=world.meeting_id,
                                minutes=world.minutes_record, person=world.person_record,
                                pathway=PATHWAY, draft=THROWAWAY_PATHWAY, migration=99)


def get(path, *calls, **options) -> Step:
    return Step("GET", path, calls, 200, **options)


def post(path, calls, done, data=None, **options) -> Step:
    return Step("POST", path, calls, done, tuple((data or {}).items()), **options)


TASK_FORM = ("get_task",)
BAD_VISIT = matrix.BAD_DATA["complete_task"]  # refused before the case version is compared
MANAGER_ONLY = ("audit_log",)  # the pathway pages refuse as the audit log does: 管理者 only

# Matrix operation -> the pages and partials that perform it.
STEPS = {
    "show_case": [get("/cases/{case}", "show_case")],
    "show_record_minutes": [get("/cases/{case}/records/{minutes}", "show_record_minutes")],
    "show_record_person": [get("/cases/{case}/records/{person}", "show_record_person")],
    "list_tasks": [get("/", "list_tasks", listing=True)],
    "get_task": [get("/tasks/{task}", "get_task")],
    "search_cases": [get("/cases?q=秘密", "search_cases", listing=True)],
    "show_meeting": [get("/meetings/{meeting}", "show_meeting")],
    "case_diagram": [get("/cases/{case}/diagram", "case_diagram")],
    "complete_task": [
        post("/tasks/{task}", TASK_FORM + ("complete_task",), 422, {"case_version": "1", **BAD_VISIT}),
        post("/tasks/{task}", TASK_FORM + ("complete_task",), 409, {"case_version": "0", **VISIT}),
    ],
    "save_draft": [post("/tasks/{task}", TASK_FORM + ("save_draft",), 303,
                        {"case_version": "1", "_action": "save_draft", "本人の様子": "下書き"})],
    "claim_task": [post("/tasks/{task}/claim", ("claim_task",), 303, htmx_done=200),
                   post("/tasks/{task}/release", ("claim_task",), 303, htmx_done=200)],
    "send_event": [
        get(f"/cases/{{case}}/events/{EVENT}", "show_case", unoffered="send_event"),
        post(f"/cases/{{case}}/events/{EVENT}", ("show_case", "send_event"), 422,
             matrix.BAD_DATA["send_event"]),
    ],
    "audit_log": [
        get("/pathways", *MANAGER_ONLY),
        get("/pathways/{pathway}/diff", *MANAGER_ONLY),
        get("/pathways/{pathway}/versions/1", *MANAGER_ONLY),
        get("/pathways/{pathway}/cases/{case}", *MANAGER_ONLY),
        get("/pathways/{pathway}/edit", *MANAGER_ONLY),
        get("/pathways/new", *MANAGER_ONLY),
        post("/pathways/lint", MANAGER_ONLY, 200, BROKEN_MODEL),
        post("/pathways/deploy", MANAGER_ONLY, 422, BROKEN_MODEL),
        post("/pathways/{draft}/draft", MANAGER_ONLY, 303, {"file:draft.bpmn": "<下書き/>"},
             htmx_done=200),
        # A manager passes the policy: the case is on version 1 already, and no migration 99
        # exists, so nothing moves (a real move and its revert run last).
        post("/pathways/{pathway}/cases/{case}/migrate", MANAGER_ONLY, 409, {"to": "1"}),
        post("/pathways/{pathway}/cases/{case}/migrations/{migration}/revert", MANAGER_ONLY, 404),
    ],
}
assert set(STEPS) == set(matrix.OPERATIONS)
ACKNOWLEDGE = post("/meetings/{meeting}/acknowledge", (), 303)
MIGRATE = post("/pathways/{pathway}/cases/{case}/migrate", MANAGER_ONLY, 303, {"to": "2"})
REVERT = post("/pathways/{pathway}/cases/{case}/migrations/{migration}/revert", MANAGER_ONLY, 303)
EVERY_SECRET = [text for texts in matrix.SECRETS.values() for text in texts]


def second_version() -> Step:
    """Deploying workflows/ with jusou's pool renamed: its version 2."""
    files = {f"file:{path.name}": path.read_text(encoding="utf-8")
             for path in sorted((ROOT / "workflows").iterdir())}
    files["file:jusou.bpmn"] = files["file:jusou.bpmn"].replace(
        'name="重層的支援"', 'name="重層的支援（第2版）"', 1)
    return post("/pathways/deploy", MANAGER_ONLY, 303, files)


def first_refusal(profile, calls) -> str:
    return next((outcome for outcome in (matrix.expected(op, profile) for op in calls)
                 if outcome != ALLOWED), ALLOWED)


def expected_status(step: Step, profile, htmx: bool) -> int:
    outcome = first_refusal(profile, step.calls)
    done = step.htmx_done if htmx and step.htmx_done else step.done
    if step.listing:
        return done
    if outcome != ALLOWED:
        return REFUSAL_STATUS[outcome]
    if step.unoffered and matrix.expected(step.unoffered, profile) != ALLOWED:
        return 303
    return done


def listed(operation: str, profile, world) -> dict[str, bool]:
    """What a list must show (True) or leave out (False): the inbox lists a task to the users
    who may work it; the search finds the case's people for its holders and the consented."""
    have = matrix.bases(profile)
    if operation == "list_tasks":
        return {f'href="/tasks/{world.visit_task}"': "visit" in have,
                f'href="/tasks/{world.matching_task}"': "matching" in have}
    if operation == "search_cases":
        return {f'href="/cases/{world.case_id}"': bool(have & {"holder", "consent"})}
    return {}


# --- which cells run ---------------------------------------------------------------------

def _features(cell) -> set:
    p = cell.profile
    values = (("role", p.role), ("agency", p.agency), ("consent", p.consent),
              ("attendance", p.attendance))
    return set(combinations(values, 2)) | {("class", cell.expected, cell.may_see)}


def chosen_cells(cells) -> dict[str, list]:
    """Per operation: a cell of each outcome and visibility, then all pairs of profile
    values (greedy; a profile no operation ran yet wins a tie), then the profiles still
    not run, spread over the operations."""
    by_operation = defaultdict(list)
    for cell in cells:
        by_operation[cell.operation].append(cell)
    unseen = {cell.profile for cell in cells}
    chosen = {}
    for operation, candidates in by_operation.items():
        features = {cell: _features(cell) for cell in candidates}
        needed = set().union(*features.values())
        picked = []
        while needed:
            best = max(candidates, key=lambda c: (len(features[c] & needed), c.profile in unseen))
            picked.append(best)
            needed -= features[best]
            unseen.discard(best.profile)
        chosen[operation] = picked
    operations = list(by_operation)
    for index, profile in enumerate(sorted(unseen, key=lambda p: p.user)):
        operation = operations[index % len(operations)]
        chosen[operation].append(next(c for c in by_operation[operation] if c.profile == profile))
    return chosen


def representatives(cells) -> set:
    """One cell of each operation, outcome and visibility: these run the htmx partials too."""
    found = {}
    for cell in cells:
        found.setdefault((cell.operation, cell.expected, cell.may_see), cell)
    return set(found.values())


CELLS = matrix.cells()
CHOSEN = chosen_cells(CELLS)
HTMX = representatives(cell for cells in CHOSEN.values() for cell in cells)


# --- the world and its users ---------------------------------------------------------------

@pytest.fixture(scope="module")
def world(module_database_url, _password_hash):
    kasane = Kasane(module_database_url)
    try:
        built = matrix.build_world(kasane, ROOT / "workflows")
        with kasane.transaction() as db:  # every user signs in with the one ready hash
            db.execute(update(User).values(password_hash=_password_hash))
    finally:
        kasane.close()
        clock.set_now(None)
    return built


@pytest.fixture(scope="module")
def web(module_database_url, world, _password_hash):
    app = create_app({"DATABASE_URL": module_database_url, "TESTING": True})
    yield Web(app, world, fingerprint(_password_hash))
    app.extensions["kasane"].close()


class Web:
    """The app, and one signed-in client per user (with its CSRF token once it posted)."""

    def __init__(self, app, world, fingerprint: str):
        self.app = app
        self.world = world
        self.fingerprint = fingerprint
        self.clients = {}
        self.tokens = {}

    def client(self, user: str):
        if user not in self.clients:
            client = self.app.test_client()
            with client.session_transaction() as session:  # what Flask-Login keeps
                session["_user_id"] = f"{user}|{self.fingerprint}"
                session["_fresh"] = True
            self.clients[user] = client
        return self.clients[user]

    def request(self, user: str, step: Step, htmx: bool = False):
        client = self.client(user)
        headers = {"HX-Request": "true"} if htmx else {}
        if step.method == "GET":
            return client.get(step.url(self.world), headers=headers)
        if user not in self.tokens:
            self.tokens[user] = csrf_token(client.get("/cases").get_data(as_text=True))
        data = {"csrf_token": self.tokens[user], **dict(step.data)}
        return client.post(step.url(self.world), data=data, headers=headers)


def hidden(may_see) -> list[str]:
    return [text for group, texts in matrix.SECRETS.items() if group not in may_see for text in texts]


def readable(response) -> str:
    """The body and headers as a person or a script could read them: HTML entities and
    JSON \\u escapes undone."""
    text = response.get_data(as_text=True) + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers)
    unescaped = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text + "\n" + html.unescape(text) + "\n" + unescaped


def check(label: str, response, status: int, forbidden_texts, shows=None) -> list[str]:
    problems = []
    body = readable(response)
    response.close()  # a static file stays open until closed
    if response.status_code != status:
        problems.append(f"{label}: {response.status_code} (expected {status}) "
                        f"{response.get_data(as_text=True)[:200]!r}")
    if "Traceback" in body:
        problems.append(f"{label}: a traceback")
    leaked = [text for text in forbidden_texts if text in body]
    if leaked:
        problems.append(f"{label}: the answer carries {leaked}")
    for marker, wanted in (shows or {}).items():
        if (marker in body) != wanted:
            problems.append(f"{label}: {marker} {'missing' if wanted else 'listed'}")
    return problems


def run_cell(web: Web, cell, htmx: bool) -> list[str]:
    problems = []
    user = web.world.users[cell.profile]
    for step in STEPS[cell.operation]:
        outcome = first_refusal(cell.profile, step.calls)
        may_see = cell.may_see if step.listing else matrix.may_see(cell.profile, outcome)
        response = web.request(user, step, htmx)
        label = f"{cell.id} {step.method} {step.url(web.world)}{' (htmx)' if htmx else ''}"
        shows = listed(cell.operation, cell.profile, web.world) if step.listing else None
        problems += check(label, response, expected_status(step, cell.profile, htmx),
                          hidden(may_see), shows)
    return problems


# --- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", matrix.OPERATIONS)
def test_cells_through_the_web_ui(web, operation):
    clock.set_now(web.world.run_on)
    problems = []
    for cell in CHOSEN[operation]:
        problems += run_cell(web, cell, htmx=False)
        if cell in HTMX:
            problems += run_cell(web, cell, htmx=True)
    assert problems == []


def test_the_chosen_cells_cover_every_profile_pair_and_class():
    chosen = [cell for cells in CHOSEN.values() for cell in cells]
    assert {c.profile for c in chosen} == {c.profile for c in CELLS}
    for operation, cells in CHOSEN.items():
        everything = set().union(*(_features(c) for c in CELLS if c.operation == operation))
        assert set().union(*(_features(c) for c in cells)) == everything, operation
    assert {(c.operation, c.expected, c.may_see) for c in HTMX} == \
        {(c.operation, c.expected, c.may_see) for c in CELLS}


def test_every_route_is_mapped_or_touches_no_case(web):
    adapter = web.app.url_map.bind("localhost")
    mapped = {(adapter.match(step.url(web.world).split("?")[0], method=step.method)[0], step.method)
              for step in [*(s for steps in STEPS.values() for s in steps), ACKNOWLEDGE, MIGRATE,
                           REVERT, second_version()]}
    routes = {(rule.endpoint, method) for rule in web.app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    unaccounted = sorted(r for r in routes if r not in mapped and r[0] not in NO_CASE_DATA)
    assert unaccounted == [], "map these routes to a matrix operation or list them in NO_CASE_DATA"
    assert set(NO_CASE_DATA) <= {endpoint for endpoint, _ in routes}


def test_pages_without_a_case_show_none_of_it(web):
    """The pages of NO_CASE_DATA carry no personal value, even for a user who sees everything."""
    clock.set_now(web.world.run_on)
    holder = next(p for p in web.world.users if p.agency == matrix.RECEIVING and p.role == matrix.ROLES[0]
                  and p.attendance == "acknowledged")
    client = web.client(holder.user)
    problems = []
    for path, status in (("/cases/new", 200), ("/_forms/", 200), ("/_forms/アウトリーチ訪問記録?example=1", 200),
                         ("/health", 200), ("/login", 302), ("/static/kasane.css", 200)):
        problems += check(path, client.get(path), status, EVERY_SECRET)
    assert problems == []



def test_writes_that_change_the_world_run_last(web):
    """Acknowledging the 支援会議 opens its materials to a working attendee (a manager sees
    no case file even then); a manager deploys a second version of the pathway, moves the
    case to it and back."""
    clock.set_now(web.world.run_on)
    problems = []
    profiles = [cell.profile for cell in CHOSEN["show_meeting"]]
    for profile in profiles:
        user = web.world.users[profile]
        attendee = profile.attendance != "absent"
        label = f"acknowledge:{profile.user}"
        problems += check(label, web.request(user, ACKNOWLEDGE), 303 if attendee else 403, EVERY_SECRET)
        after = replace(profile, attendance="acknowledged") if attendee else profile
        outcome = matrix.expected("show_meeting", after)
        problems += check(f"{label} then show_meeting", web.request(user, STEPS["show_meeting"][0]),
                          REFUSAL_STATUS.get(outcome, 200),
                          hidden(matrix.may_see(after, outcome)))
    manager = next(p for p in profiles if p.role == matrix.MANAGER)
    problems += check("deploy", web.request(manager.user, second_version()), 303, EVERY_SECRET)
    problems += check("migrate", web.request(manager.user, MIGRATE), 303, EVERY_SECRET)
    migrations = web.app.extensions["kasane"].case_migrations(web.world.case_id)
    assert [m["reverted_at"] for m in migrations] == [None]
    revert = replace(REVERT, path=REVERT.path.replace("{migration}", str(migrations[0]["migration_id"])))
    problems += check("revert", web.request(manager.user, revert), 303, EVERY_SECRET)
    assert web.app.extensions["kasane"].case_migrations(web.world.case_id)[0]["reverted_at"]
    assert problems == []
