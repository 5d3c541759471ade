"""The access matrix, as data: who may do what with one case, and what they may see.

Rows are profiles — a role × an agency (the one that received the case, or one of each
kind in the register) × that agency's consent state (none, named in an active consent,
in a withdrawn one, in an expired one) × 支援会議 attendance (an attendee who
acknowledged the duty of confidentiality, one who did not, not an attendee) — crossed with
the operations of the engine. Each cell expects an outcome (allowed, not found, forbidden)
and names the personal values its answer may carry; every other personal value of the
case must be absent from the answer, whatever the outcome.

Any interface runs the same cells: ``build_world`` prepares the case through the engine
API and returns the ids and the user of each profile; ``cells`` lists the expectations.
tests/test_access_matrix.py runs them against the engine API and the CLI; the web UI can
run them over HTTP with its own ``call``.

Writes use data the form refuses (``BAD_DATA``): a write the policy allows then answers
"invalid input" and stores nothing, so every cell runs against the same world. Claims are
released again at once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import product

import forms
from engine import clock

ROLES = ("包括化推進員", "相談支援コーディネーター", "アウトリーチ支援員", "参加支援コーディネーター", "管理者")
MANAGER = "管理者"
RECEIVING = "受付機関"  # the agency that received the case (an 地域包括支援センター)
RECEIVING_KIND = "地域包括支援センター"
KINDS = ("地域包括支援センター", "基幹相談支援センター", "子育て世代包括支援センター", "自立相談支援機関",
         "福祉まるごと相談室", "社会福祉協議会", "参加支援事業者", "アウトリーチ事業者", "市福祉課")
REFERRED_KIND = "福祉まるごと相談室"  # 受理判断 refers the case to every agency of this kind
CONSENT_STATES = ("none", "consented", "withdrawn", "expired")
ATTENDANCE = ("acknowledged", "unacknowledged", "absent")

# The open tasks of the world, their lanes and the agency kinds they are assigned to.
VISIT_TASK = ("アウトリーチ訪問記録", "アウトリーチ支援員", "アウトリーチ事業者")
MATCHING_TASK = ("参加支援マッチング", "参加支援コーディネーター", "参加支援事業者")

BUILT_ON = "2025-04-07"
RUN_ON = "2025-04-25"        # after the expired consent's 有効期限, before any timer is due
EXPIRES_ON = "2025-04-20"

# The case's personal values, by what they belong to. None of them is an example value of
# a form, so each can only come from the case.
SECRETS = {
    "name": ("秘密 花江", "ひみつ はなえ"),                   # 本人: her consent covers her
    "contact": ("あわら市秘密町9-9-9", "0776-99-9999"),       # 本人's address and phone
    "son": ("秘密 一樹",),                                   # 長男: consent withdrawn
    "second_son": ("秘密 次彦",),                            # 次男: consent expired
    "minutes": ("深夜のコンビニにだけ出かける", "民生委員が毎週金曜日に声をかける"),  # the 支援会議
}

ALLOWED, NOT_FOUND, FORBIDDEN = "allowed", "not_found", "forbidden"

# What each basis lets an answer carry (the union over the profile's bases).
SEES = {
    "holder": {"name", "contact", "son", "second_son"},
    "consent": {"name", "contact"},          # 本人's consent, every 情報範囲
    "visit": {"name", "contact"},            # the visit task reads 氏名, ふりがな, 住所, 電話
    "matching": {"name"},                    # the matching task reads 氏名, ふりがな
    "acknowledged": {"name", "son", "second_son", "minutes"},  # the meeting's materials
}

# Per operation, the first rule naming any basis the profile has decides: (bases, outcome).
# Bases: holder (received or referred), consent, visit / matching (may work that task),
# task (either), acknowledged / unacknowledged (attendee), knows (any of those),
# visit_lane / other_lane (holds the visit task's role or not), manager; "" matches all.
RULES = {
    "show_case": (("holder consent task", ALLOWED), ("knows", FORBIDDEN), ("", NOT_FOUND)),
    "show_record_minutes": (("acknowledged", ALLOWED), ("knows", FORBIDDEN), ("", NOT_FOUND)),
    "show_record_person": (("holder consent", ALLOWED), ("knows", FORBIDDEN), ("", NOT_FOUND)),
    "list_tasks": (("knows", ALLOWED), ("", NOT_FOUND)),
    "get_task": (("holder visit", ALLOWED), ("knows", FORBIDDEN), ("", NOT_FOUND)),
    "search_cases": (("", ALLOWED),),
    "show_meeting": (("acknowledged", ALLOWED), ("unacknowledged", FORBIDDEN), ("holder", ALLOWED),
                     ("", NOT_FOUND)),
    "case_diagram": (("holder", ALLOWED), ("knows", FORBIDDEN), ("", NOT_FOUND)),
    "complete_task": (("visit", ALLOWED), ("other_lane knows", FORBIDDEN), ("", NOT_FOUND)),
    "claim_task": (("visit", ALLOWED), ("other_lane knows", FORBIDDEN), ("", NOT_FOUND)),
    "save_draft": (("visit", ALLOWED), ("other_lane knows", FORBIDDEN), ("", NOT_FOUND)),
    "send_event": (("holder task", ALLOWED), ("knows", FORBIDDEN), ("", NOT_FOUND)),
    "audit_log": (("manager", ALLOWED), ("", FORBIDDEN)),
}
OPERATIONS = tuple(RULES)
# complete_task, claim_task, save_draft: a task id tells nothing of the case and the role a
# task needs is no secret, so a user without that role is refused as such (forbidden),
# whether or not they know the case.

BAD_DATA = {"complete_task": {"結果": "存在しない結果"}, "send_event": {"結果": "存在しない結果"}}


@dataclass(frozen=True)
class Profile:
    role: str
    agency: str          # RECEIVING or an agency kind
    consent: str         # CONSENT_STATES
    attendance: str      # ATTENDANCE

    @property
    def user(self) -> str:
        return f"{self.role}・{self.agency}・{self.consent}・{self.attendance}"

    @property
    def agency_name(self) -> str:
        return RECEIVING if self.agency == RECEIVING else f"{self.agency}（{self.consent}）"

    @property
    def kind(self) -> str:
        return RECEIVING_KIND if self.agency == RECEIVING else self.agency


@dataclass(frozen=True)
class Cell:
    profile: Profile
    operation: str
    expected: str        # ALLOWED, NOT_FOUND or FORBIDDEN
    may_see: frozenset   # keys of SECRETS the answer may carry

    def forbidden_texts(self) -> list[str]:
        return [text for group, texts in SECRETS.items() if group not in self.may_see
                for text in texts]

    @property
    def id(self) -> str:
        return f"{self.operation}:{self.profile.user}"


def profiles(kinds=KINDS) -> list[Profile]:
    agencies = [(RECEIVING, "none")] + list(product(kinds, CONSENT_STATES))
    return [Profile(role, agency, consent, attendance)
            for role, (agency, consent), attendance in product(ROLES, agencies, ATTENDANCE)]


def bases(profile: Profile) -> set[str]:
    if profile.role == MANAGER:
        return {"manager", "other_lane"}  # managers see statistics, not case files
    found = set()
    if profile.agency in (RECEIVING, REFERRED_KIND):
        found.add("holder")
    for task, (name, lane, kind) in (("visit", VISIT_TASK), ("matching", MATCHING_TASK)):
        if profile.role == lane and ("holder" in found or profile.kind == kind):
            found |= {task, "task"}
    if profile.consent == "consented":
        found.add("consent")
    if profile.attendance != "absent":
        found.add(profile.attendance)
    if found:
        found.add("knows")
    found.add("visit_lane" if profile.role == VISIT_TASK[1] else "other_lane")
    return found


def expected(operation: str, profile: Profile) -> str:
    have = bases(profile)
    for wanted, outcome in RULES[operation]:
        if not wanted or have & set(wanted.split()):
            return outcome
    raise AssertionError(operation)


def may_see(profile: Profile, outcome: str) -> frozenset:
    if outcome != ALLOWED:
        return frozenset()
    seen = set()
    for basis in bases(profile):
        seen |= SEES.get(basis, set())
    return frozenset(seen)


def cells(kinds=KINDS, operations=OPERATIONS) -> list[Cell]:
    found = []
    for profile in profiles(kinds):
        for operation in operations:
            outcome = expected(operation, profile)
            found.append(Cell(profile, operation, outcome, may_see(profile, outcome)))
    return found


# --- the world ---------------------------------------------------------------------------

@dataclass
class World:
    case_id: int
    meeting_id: int
    minutes_record: int
    person_record: int
    visit_task: str
    matching_task: str
    users: dict            # Profile -> user name
    run_on: str = RUN_ON


def build_world(kasane, workflows, kinds=KINDS) -> World:
    """Deploy the pathway, register an agency per kind and consent state and a user per
    profile, and take one household through the pathway (as the operator and two builder
    users, who are none of the profiles) to 支援実施 with the visit and the matching open:

    - 本人 秘密 花江's consent names the "consented" agencies (every 情報範囲);
    - 長男 秘密 一樹's consent named the "withdrawn" ones and was withdrawn;
    - 次男 秘密 次彦's consent names the "expired" ones and ended on EXPIRES_ON;
    - a 支援会議 on the case lists the attendee profiles (users) as 構成員, and those with
      "acknowledged" acknowledged the duty of confidentiality.
    """
    clock.set_now(BUILT_ON)
    kasane.deploy([str(workflows)])
    kasane.add_agency(RECEIVING, RECEIVING_KIND)
    for kind, state in product(kinds, CONSENT_STATES):
        kasane.add_agency(f"{kind}（{state}）", kind)
    kasane.add_agency("作成用 まるごと", REFERRED_KIND)
    kasane.add_user("作成 受付", ["包括化推進員"], RECEIVING)
    kasane.add_user("作成 まるごと", ["相談支援コーディネーター"], "作成用 まるごと")
    everyone = profiles(kinds)
    for profile in everyone:
        kasane.add_user(profile.user, [profile.role], profile.agency_name)

    def named(state):
        return [p.agency_name for p in everyone if p.consent == state and p.agency != RECEIVING
                and p.role == ROLES[0] and p.attendance == ATTENDANCE[0]]

    case_id = kasane.open_case("jusou", "作成 受付")["case_id"]

    def complete(name, user, **values):
        task = next(t for t in kasane.list_tasks(case_id=case_id) if t["name"] == name)
        return kasane.complete_task(task["task_id"], user, {**forms.example_values(task["form"]), **values})

    def consent(member, state, until="2026-03-31"):
        complete("同意確認", "作成 まるごと", 同意="あり", 対象者=member, 共有先=named(state),
                 情報範囲=list(forms.SCOPES), 有効期限=until, 代理人続柄=None, 備考=None)

    def withdraw():
        kasane.send_event(case_id, "同意撤回", "作成 まるごと",
                          {**forms.example_values("同意撤回"), "対象者": SECRETS["son"][0]})

    complete("相談受付", "作成 受付", 氏名=SECRETS["name"][0], ふりがな=SECRETS["name"][1],
             住所=SECRETS["contact"][0], 電話=SECRETS["contact"][1], 対応="多機関協働",
             来談者続柄=None, 相談の概要=None, 希望=None)
    complete("受理判断", "作成 まるごと", 判断="受理")
    consent(SECRETS["son"][0], "withdrawn")
    withdraw()
    attendees = [{"氏名": p.user, "所属": p.agency_name, "利用者": p.user, "守秘義務確認": False}
                 for p in everyone if p.attendance != "absent"]
    complete("支援会議記録", "作成 まるごと", 対象者=SECRETS["son"][0], 合意事項=["見守り"],
             構成員=attendees + [{"氏名": "民生委員 佐藤", "所属": "民生委員", "守秘義務確認": True}],
             検討内容=SECRETS["minutes"][0], 役割分担=SECRETS["minutes"][1], 次回予定日="2025-05-23")
    shown = kasane.show_case(case_id)
    minutes = next(r for r in shown["records"] if r["name"] == "支援会議記録")
    consent(SECRETS["name"][0], "consented")
    withdraw()  # 一樹's consent is withdrawn already; the case goes back to 同意前支援
    complete("支援会議記録", "作成 まるごと", 会議番号=str(minutes["meeting_id"]),
             対象者=SECRETS["son"][0], 合意事項=["見守り"], 構成員=[],
             検討内容=SECRETS["minutes"][0], 役割分担=SECRETS["minutes"][1])
    consent(SECRETS["second_son"][0], "expired", until=EXPIRES_ON)
    complete("アセスメント", "作成 まるごと", 世帯員=[
        {**forms.example_values("アセスメント")["世帯員"][0], "氏名": SECRETS["son"][0], "続柄": "子"},
        {**forms.example_values("アセスメント")["世帯員"][0], "氏名": SECRETS["second_son"][0], "続柄": "子"}])
    complete("プラン作成", "作成 まるごと", モニタリング予定日="2025-09-30", 参加支援利用=True,
             アウトリーチ利用=True)
    complete("プラン協議", "作成 まるごと", 結果="適切")
    for profile in everyone:
        if profile.attendance == "acknowledged":
            kasane.acknowledge_meeting(minutes["meeting_id"], profile.user)
    clock.set_now(RUN_ON)
    shown = kasane.show_case(case_id)
    tasks = {t["name"]: t["task_id"] for t in shown["tasks"]}
    assert sorted(tasks) == sorted([VISIT_TASK[0], MATCHING_TASK[0]]), tasks
    assert shown["stage"] == "支援実施" and all(t["due"] > RUN_ON for t in shown["timers"]), shown
    person = next(r for r in shown["records"] if r["name"] == "相談受付")
    return World(case_id, minutes["meeting_id"], minutes["record_id"], person["record_id"],
                 tasks[VISIT_TASK[0]], tasks[MATCHING_TASK[0]],
                 {p: p.user for p in everyone})


# --- the operations, as the engine API and the CLI call them --------------------------------

def api_call(kasane, world: World, operation: str, user: str):
    case, task = world.case_id, world.visit_task
    calls = {
        "show_case": lambda: kasane.show_case(case, user),
        "show_record_minutes": lambda: kasane.show_record(case, world.minutes_record, user),
        "show_record_person": lambda: kasane.show_record(case, world.person_record, user),
        "list_tasks": lambda: kasane.list_tasks(case_id=case, actor=user),
        "get_task": lambda: kasane.get_task(task, user),
        "search_cases": lambda: kasane.search_cases("秘密", user),
        "show_meeting": lambda: kasane.show_meeting(world.meeting_id, user),
        "case_diagram": lambda: kasane.case_diagram(case, user),
        "complete_task": lambda: kasane.complete_task(task, user, BAD_DATA["complete_task"]),
        "claim_task": lambda: [kasane.claim_task(task, user), kasane.release_task(task, user)],
        "save_draft": lambda: kasane.save_draft(task, user, {"本人の様子": "下書き"}),
        "send_event": lambda: kasane.send_event(case, "接触記録", user, BAD_DATA["send_event"]),
        "audit_log": lambda: kasane.audit_log(user, case_id=case),
    }
    return calls[operation]()


CLI_COMMANDS = {  # operation -> the commands (without --as) that do it, of a world
    "show_case": lambda w: [["case", "show", str(w.case_id)]],
    "show_record_minutes": lambda w: [["case", "record", str(w.case_id), str(w.minutes_record)]],
    "show_record_person": lambda w: [["case", "record", str(w.case_id), str(w.person_record)]],
    "list_tasks": lambda w: [["tasks", "--case", str(w.case_id)]],
    "search_cases": lambda w: [["case", "search", "秘密"]],
    "show_meeting": lambda w: [["meeting", "show", str(w.meeting_id)]],
    "complete_task": lambda w: [["task", "complete", w.visit_task, "--data",
                                 json.dumps(BAD_DATA["complete_task"], ensure_ascii=False)]],
    "claim_task": lambda w: [["task", "claim", w.visit_task], ["task", "release", w.visit_task]],
    "send_event": lambda w: [["case", "event", str(w.case_id), "接触記録", "--data",
                              json.dumps(BAD_DATA["send_event"], ensure_ascii=False)]],
    "audit_log": lambda w: [["audit", "--case", str(w.case_id)]],
}  # get_task, case_diagram and save_draft serve the web UI; the CLI has no command for them


def cli_args(world: World, operation: str, user: str) -> list[list[str]]:
    return [command + ["--as", user] for command in CLI_COMMANDS[operation](world)]


# An error that means the policy let the call through (a write refused only for its data).
OUTCOME_OF_ERROR = {"invalid": ALLOWED, "not_found": NOT_FOUND, "forbidden": FORBIDDEN}
OUTCOME_OF_EXIT = {0: ALLOWED, 1: ALLOWED, 2: NOT_FOUND, 4: FORBIDDEN}
