"""Users and cases for the list tests (inbox, case search): a client signed in as anyone,
and cases taken through intake by the engine API, as a caseworker would."""
from __future__ import annotations

import html as htmllib
import re

import forms
from tests.webui.conftest import add_user_fast
from webui.auth import fingerprint

COORD = "相談支援コーディネーター"
INTAKE = "包括化推進員"
HTMX = {"HX-Request": "true"}


def sign_in_as(app, password_hash, name, roles=(COORD,), agency="福祉まるごと相談室"):
    """A new client signed in as a new user (without the cost of argon2)."""
    add_user_fast(app.extensions["kasane"], name, list(roles), agency, password_hash)
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{name}|{fingerprint(password_hash)}"
        session["_fresh"] = True
    return client


def intake(kasane, actor, name, kana, response="多機関協働") -> int:
    """A consultation received and sent on (多機関協働: the coordinators' 受理判断 opens)."""
    case = kasane.open_case("jusou", actor)
    data = {**forms.example_values("相談受付"), "氏名": name, "ふりがな": kana, "対応": response}
    kasane.complete_task(case["tasks"][0]["task_id"], actor, data)
    return case["case_id"]


def text_of(fragment: str) -> str:
    """What a person reads: the tags gone, the spaces squeezed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def task_rows(page: str) -> dict[str, tuple[str, str]]:
    """The inbox's rows by task id: (class, text)."""
    return {task_id: (cls, text_of(body)) for task_id, cls, body in
            re.findall(r'<tr id="task-([^"]+)" class="([^"]*)">(.*?)</tr>', page, re.S)}


def inbox_count(page: str) -> str:
    return re.search(r'<span id="inbox-count"[^>]*>([^<]*)</span>', page).group(1)
