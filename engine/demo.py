"""Demo data: users for every role of the deployed pathways and a few cases in flight.

Forms fill themselves with their example values (domain §7 "Sample values"), on a clock
fixed to the day the examples were written for, so every pathway gets the same treatment.
"""
from __future__ import annotations

from engine import clock, deployments
from engine.api import Kasane
from engine.errors import KasaneError
import forms

DEMO_DAY = "2025-04-07"
DEMO_PASSWORD = "kasane-demo"  # every demo user's; the README lists them
# Sign-in names of the demo users, one per role (README, "Demo data").
DEMO_USERS = {
    "包括化推進員": "yamada",
    "相談支援コーディネーター": "tanaka",
    "アウトリーチ支援員": "suzuki",
    "参加支援コーディネーター": "takahashi",
    "管理者": "kato",
}
# The agency kind each role of the demo works at (a demo fact, not a rule: a role may be
# held at any agency). Roles not listed work at the city's own agency.
DEMO_AGENCY_KINDS = {
    "包括化推進員": "地域包括支援センター",
    "相談支援コーディネーター": "福祉まるごと相談室",
    "アウトリーチ支援員": "アウトリーチ事業者",
    "参加支援コーディネーター": "参加支援事業者",
    "管理者": "市福祉課",
}


def roles_of(pathway) -> list[str]:
    roles = []
    for spec in [pathway.spec, *pathway.subprocess_specs.values()]:
        for task_spec in spec.task_specs.values():
            lane = getattr(task_spec, "lane", None)
            if lane and lane not in roles:
                roles.append(lane)
    return roles


def load_demo(api: Kasane, paths=("workflows",), cases_per_pathway: int = 3) -> dict:
    with clock.fixed_at(DEMO_DAY):
        deployed = api.deploy(list(paths))
        with api.transaction() as session:
            pathways = {item["pathway"]: deployments.load_pathway(
                deployments.latest_deployment(session, item["pathway"])) for item in deployed}
        roles = []
        for pathway in pathways.values():
            roles += [role for role in roles_of(pathway) if role not in roles]
        created_users: list[str] = []
        users = _ensure_users(api, roles, created_users)
        # Cases start on the main pathways; those that others call run inside them.
        called = {name for p in pathways.values() for name in p.subprocess_specs}
        opened = []
        for item in deployed:
            if item["new"] and item["pathway"] not in called:
                opened += [_demo_case(api, item["pathway"], users, steps + 1)
                           for steps in range(cases_per_pathway)]
    return {"deployed": deployed, "users": created_users, "cases": opened}


def demo_agency(api: Kasane, role: str) -> str:
    """The demo agency for a role: 「デモ」 plus the kind's name, registered once."""
    kind = DEMO_AGENCY_KINDS.get(role, "市福祉課")
    name = f"デモ{kind}"
    if name not in {a["agency"] for a in api.list_agencies()}:
        api.add_agency(name, kind)
    return name


def _ensure_users(api: Kasane, roles: list[str], created: list) -> dict[str, str]:
    users = {}
    for n, role in enumerate(dict.fromkeys([*roles, "管理者"])):
        name = DEMO_USERS.get(role) or f"user{n + 1}"
        try:
            api.add_user(name, [role], agency=demo_agency(api, role), password=DEMO_PASSWORD)
            created.append(name)
        except KasaneError:
            pass  # already there from an earlier demo run
        users[role] = name
    return users


def _demo_case(api: Kasane, pathway: str, users: dict[str, str], steps: int) -> int:
    case_id = api.open_case(pathway, next(iter(users.values())))["case_id"]
    for _ in range(steps):
        # The open tasks as the operator lists them: what a write returns is what its
        # user may see, and the next task may be another's.
        tasks = api.list_tasks(case_id=case_id)
        if not tasks:
            break
        task = tasks[0]
        data = forms.example_values(task["form"]) if task["form"] else {}
        try:
            api.complete_task(task["task_id"], users.get(task["role"]) or
                              next(iter(users.values())), data)
        except KasaneError:
            break
    return case_id
