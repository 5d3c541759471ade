"""The scenario context: the current case and the users that role names stand for."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine.api import Kasane
from engine.errors import KasaneError
from engine.users import find_user, first_user_with_role

ROOT = Path(__file__).resolve().parents[2]

# The agency kind each role works at, for users the steps create from a role's name
# (features/README.md): a fact about the specs' world, not a rule of the engine.
ROLE_AGENCY_KINDS = {
    "包括化推進員": "地域包括支援センター",
    "相談支援コーディネーター": "福祉まるごと相談室",
    "アウトリーチ支援員": "アウトリーチ事業者",
    "参加支援コーディネーター": "参加支援事業者",
}


@dataclass
class ScenarioContext:
    """State shared by the steps of one scenario; also readable as a dict."""

    kasane: Kasane
    case_id: int | None = None  # the current case: the one opened last
    cases: list[int] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)  # role or name -> user name

    def __getitem__(self, key: str):
        return getattr(self, key)

    def __setitem__(self, key: str, value) -> None:
        setattr(self, key, value)

    def current_case(self) -> int:
        if self.case_id is None:
            pytest.fail("ケースがまだありません。先に「相談を受け付ける」でケースを開いてください。")
        return self.case_id

    def user_for(self, role: str) -> str:
        """The user a name in a step stands for.

        A registered user's own name stands for that user; any other text is a role and
        stands for the first user with that role, who is created (``<役割>1``) if none.
        """
        if role in self.users:
            return self.users[role]
        with self.kasane.transaction() as session:
            user = find_user(session, role) or first_user_with_role(session, role)
            name = user.name if user is not None else None
        if name is None:
            name = self._new_user_name(role)
            self.kasane.add_user(name, [role], agency=self.agency_for_role(role))
        self.users[role] = name
        return name

    def agency_for_role(self, role: str) -> str | None:
        """The agency (named after its kind) where users of a role work; None: the city's own."""
        kind = ROLE_AGENCY_KINDS.get(role)
        return self.ensure_agency(kind, kind) if kind else None

    def ensure_agency(self, name: str, kind: str | None = None) -> str:
        """An agency of that name, registered if it is not yet. Its kind: ``kind``, else the
        longest kind its name contains (「あわら市自立相談支援機関」 is a 自立相談支援機関),
        else the city's own."""
        if name not in {a["agency"] for a in self.kasane.list_agencies()}:
            named = [k for k in self.kasane.list_agency_kinds() if k in name]
            self.kasane.add_agency(name, kind or max(named, key=len, default="市福祉課"))
        return name

    def user_named(self, name: str) -> str:
        """A registered user, by name (the 利用者 steps name users, never roles)."""
        with self.kasane.transaction() as session:
            known = find_user(session, name) is not None
        if not known:
            pytest.fail(f"利用者「{name}」は登録されていません。先に 前提 \"機関\" の \"役割\" の"
                        f"利用者 \"{name}\" がいる で登録してください。", pytrace=False)
        return name

    def _new_user_name(self, role: str) -> str:
        with self.kasane.transaction() as session:
            number = 1
            while find_user(session, f"{role}{number}") is not None:
                number += 1
        return f"{role}{number}"


@pytest.fixture
def scenario_context(kasane) -> ScenarioContext:
    return ScenarioContext(kasane)


def engine_failure(exc: KasaneError, doing: str) -> None:
    """Fail the step with the engine's message and field messages."""
    details = "".join(f"\n  {name}: {message}" for name, message in sorted(exc.fields.items()))
    problems = getattr(exc, "problems", None) or []
    details += "".join(f"\n  {p.get('file')} {p.get('element')}: {p.get('message')}" for p in problems)
    raise pytest.fail.Exception(f"{doing}がエラーになりました: {exc.message}{details}",
                                pytrace=False) from None
