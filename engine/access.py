"""The one access policy. Every engine call, read or write, asks it; no interface has a
rule of its own. The rules (README, "Access policy"):

| basis       | who                                                        | what                    |
|-------------|------------------------------------------------------------|-------------------------|
| operator    | the local operator (the CLI without ``--as``)              | everything              |
| receiving   | a working user of the agency that received the case        | the whole case          |
| referral    | a working user of an agency the case was referred to       | the whole case          |
| task        | a user whose role is the lane of an open task, at an agency | that task: its form and |
|             | holding the case or one the task is assigned to            | the data it reads       |
| consent:N   | a user of an agency named in a member's active consent     | that member's records,  |
|             |                                                            | within its 情報範囲      |
| meeting:N   | an attendee of a 支援会議 on the case who acknowledged the   | that meeting's materials|
|             | duty of confidentiality                                    |                         |

A working user holds a role other than 管理者: managers see statistics, not case files,
unless they also work on cases, so every basis but the operator's needs a working role.
支援会議 minutes are readable by that meeting's attendees only, whoever else may see the
case (``hidden_meetings``: what every read path leaves out). A case the user may not know
of answers "not found"; one they know of but may not use this way answers "forbidden".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from sqlalchemy import and_, exists, literal, or_, select, true
from sqlalchemy.orm import Session

from engine import consents, meetings
from engine.errors import Forbidden, NotFound
from engine.store import Case, HumanTask
from engine.users import MANAGER, find_user

TASKS = HumanTask.__table__
CASES = Case.__table__
# The bases (an answer's ``access``) that see the whole case; any other sees a part.
WHOLE_CASE_BASES = ("operator", "receiving", "referral")
# The 情報範囲 a consent must share for the member's name and particulars to be seen.
IDENTITY_SCOPE = "基本情報"


@dataclass(frozen=True)
class Actor:
    """Who is asking, resolved once per engine call."""

    name: str | None
    user_id: int | None = None
    roles: frozenset = frozenset()
    agency_id: int | None = None
    agency: str | None = None
    agency_kind: str | None = None
    channel: str = "api"       # cli / web / api
    origin: str | None = None  # the address a web request came from
    operator: bool = False

    @property
    def working_roles(self) -> frozenset:
        return self.roles - {MANAGER}

    @property
    def label(self) -> str:
        return self.name if self.name is not None else "（運用者）"


def resolve(session: Session, name: str | None, channel: str = "api",
            origin: str | None = None) -> Actor:
    """The actor for a user name; None is the local operator."""
    if name is None:
        return Actor(None, channel=channel, origin=origin, operator=True)
    user = find_user(session, name)
    if user is None:
        raise NotFound(f"利用者 '{name}' が見つかりません。")
    return Actor(user.name, user.id, frozenset(user.roles), user.agency_id, user.agency,
                 user.agency_kind, channel, origin)


class Holders(NamedTuple):
    """Who holds a case, as its row keeps it: what ``for_case`` needs of the case."""

    id: int
    receiving_agency_id: int | None
    referred_kinds: str | None
    support_meetings: bool | None = None  # whether a 支援会議 discussed it; None: not known


@dataclass
class CaseAccess:
    """What one actor may see and do with one case."""

    case_id: int
    full: str | None = None                          # operator / receiving / referral
    tasks: dict = field(default_factory=dict)       # open task id -> its index row
    consents: dict = field(default_factory=dict)    # member id -> (consent id, 情報範囲)
    meetings: dict = field(default_factory=dict)    # attended 支援会議 id -> acknowledged
    support_meetings: set = field(default_factory=set)  # every 支援会議 the case was on

    @property
    def knows(self) -> bool:
        return bool(self.full or self.tasks or self.consents or self.meetings)

    @property
    def basis(self) -> str:
        if self.full:
            return self.full
        if self.tasks:
            return "task"
        if self.consents:
            return ",".join(f"consent:{c}" for c, _ in self.consents.values())
        if self.meetings:
            return ",".join(f"meeting:{m}" for m in self.meetings)
        return "none"

    @property
    def hidden_meetings(self) -> set:
        """The 支援会議 on the case whose materials the actor may not read."""
        return {m for m in self.support_meetings if not sees_minutes(self, m)}

    def allowed_scopes(self) -> dict | None:
        """member id -> 情報範囲 the actor may see; None for everything."""
        if self.full:
            return None
        return {member: scopes for member, (_, scopes) in self.consents.items()}

    def deny(self, message: str, subject: str = "ケース") -> None:
        """Raise the denial: forbidden if the actor may know of the case, else not found."""
        if self.knows:
            raise Forbidden(message)
        raise NotFound(f"{subject} '{self.case_id}' が見つかりません。")


def for_case(session: Session, actor: Actor, case, to_work: bool = False, task=None) -> CaseAccess:
    """The actor's access to a case (its ``cases`` row, or its ``Holders``).
    ``to_work``: the caller only needs to know whether the actor may work on the case, so
    consents are looked up only to tell a denial's "forbidden" from "not found".
    ``task``: the one task the actor wants to work (a ``human_tasks.get_task`` row); only
    it is looked at, not the case's other tasks or consents, so a refusal is explained by
    asking again without it."""
    on_agenda = case.support_meetings if isinstance(case, Holders) else None
    if actor.operator:
        return _with_meetings(session, actor, CaseAccess(case.id, full="operator"), on_agenda)
    if not actor.working_roles:  # managers see statistics only
        return _with_meetings(session, actor, CaseAccess(case.id), on_agenda)
    held = held_basis(actor, case)
    access = _with_meetings(session, actor, CaseAccess(case.id, full=held), on_agenda)
    if task is not None:
        rows = [task] if task.state == "open" and task.role in {*actor.working_roles, None} else []
    else:
        rows = session.connection().execute(select(TASKS).where(
            TASKS.c.case_id == case.id, TASKS.c.state == "open",
            or_(TASKS.c.role.in_(sorted(actor.working_roles)), TASKS.c.role.is_(None))))
    access.tasks = {row.id: row for row in rows
                    if held or (row.role is not None and _assigned(row, actor))}
    if access.full or task is not None or (to_work and access.tasks):
        return access  # a consent adds nothing to the whole case
    access.consents = consents.scopes_for(session, case.id, actor.agency_id)
    return access


def case_of_task(task) -> Holders:
    """The case of a ``human_tasks.get_task`` row, as far as the policy needs it."""
    return Holders(task.case_id, task.receiving_agency_id, task.referred_kinds,
                   bool(task.support_meetings))


def held_basis(actor: Actor, case) -> str | None:
    """"receiving" or "referral" when the actor's agency holds the case, read off its row
    (the same columns ``full_cases`` tests in lists)."""
    if case.receiving_agency_id is not None and case.receiving_agency_id == actor.agency_id:
        return "receiving"
    if actor.agency_kind and f",{actor.agency_kind}," in (case.referred_kinds or ","):
        return "referral"
    return None


def holds_any(session: Session, actor: Actor, case_ids) -> bool:
    """Whether the actor holds any of these cases whole."""
    return bool(case_ids) and session.connection().scalar(
        select(exists().where(CASES.c.id.in_(list(case_ids)), full_cases(actor))))


def after_write(session: Session, actor: Actor, case, before: CaseAccess) -> CaseAccess:
    """The actor's access to a case they just wrote, for the answer. Holders are only ever
    added, so one who held the case whole still does; its 支援会議 and their attendees
    change only when the write recorded a meeting. Anyone else's access is asked afresh."""
    if not before.full:
        return for_case(session, actor, case)
    if meetings.recorded_in(session):
        return _with_meetings(session, actor, CaseAccess(case.id, full=before.full))
    return CaseAccess(case.id, full=before.full, meetings=before.meetings,
                      support_meetings=before.support_meetings)


def _with_meetings(session: Session, actor: Actor, access: CaseAccess,
                   on_agenda: bool | None = None) -> CaseAccess:
    """The 支援会議 the case was on, and which of them the actor attends (``on_agenda``
    False: known to be none)."""
    if on_agenda is False:
        return access
    access.support_meetings = set(meetings.support_meetings_of_case(session, access.case_id))
    if access.support_meetings:  # most cases had none: spare the look-up
        attending = attendance(session, actor)
        access.meetings = {m: attending[m] for m in access.support_meetings if m in attending}
    return access


def attendance(session: Session, actor: Actor) -> dict[int, bool]:
    """meeting id -> acknowledged, for the meetings the actor attends as a working user."""
    if actor.operator or not actor.working_roles:
        return {}
    return meetings.attendance(session, actor.user_id)


def _assigned(task_row, actor: Actor) -> bool:
    kinds = [k.strip() for k in (task_row.assigned_to or "").split(",")]
    return actor.agency_kind in kinds


def may_work(access: CaseAccess, task_row) -> bool:
    return task_row.id in access.tasks or access.full == "operator"


def require_role(actor: Actor, task_row) -> None:
    if task_row.role and task_row.role not in actor.roles:
        raise Forbidden(f"タスク「{task_row.name}」の完了は役割「{task_row.role}」の利用者だけが"
                        f"行えます。利用者 '{actor.name}' の役割: {', '.join(sorted(actor.roles)) or 'なし'}")


def require_task(access: CaseAccess, actor: Actor, task_row) -> None:
    """Completing (or claiming) a task needs the lane's role and access to the case."""
    if may_work(access, task_row):
        return
    if not access.knows:
        raise NotFound(f"タスク '{task_row.id}' が見つかりません。")
    require_role(actor, task_row)
    raise Forbidden(f"タスク「{task_row.name}」はこのケースを担当する機関の利用者だけが行えます。")


def require_case_work(access: CaseAccess, what: str) -> None:
    """Recording an event on a case needs the whole case or an open task on it."""
    if access.full or access.tasks:
        return
    access.deny(f"{what}はこのケースを担当する機関の利用者だけが行えます。")


def sees_minutes(access: CaseAccess, meeting_id: int | None) -> bool:
    """支援会議 minutes are for that meeting's acknowledged attendees (and the operator)."""
    if meeting_id is None or meeting_id not in access.support_meetings:
        return True
    return access.full == "operator" or access.meetings.get(meeting_id, False)


# --- lists: the same rules as SQL conditions -------------------------------------------

def visible_tasks(actor: Actor):
    """The open tasks an actor may see, as a condition on ``human_tasks`` joined with the
    ``cases`` row of each task."""
    if actor.operator:
        return true()
    if not actor.working_roles:
        return literal(False)
    holds = full_cases(actor)
    assigned = (literal(",") + TASKS.c.assigned_to + literal(",")).like(f"%,{actor.agency_kind},%")
    return or_(holds, and_(TASKS.c.role.in_(sorted(actor.working_roles)), assigned))


def full_cases(actor: Actor):
    """Cases the actor sees whole, as a condition on the ``cases`` row (which lists join):
    its receiving agency is the actor's, or the actor's kind is one it was referred to. A
    column test on a joined row, not a subquery, so that a page of a list reads only the
    rows it shows."""
    if actor.operator:
        return true()
    if not actor.working_roles:
        return literal(False)
    return or_(CASES.c.receiving_agency_id == actor.agency_id,
               CASES.c.referred_kinds.like(f"%,{actor.agency_kind},%"))


def consented_member(actor: Actor, member_id_column, scope: str):
    """Members an active consent naming the actor's agency shares, with ``scope`` in its
    情報範囲, as a condition on a member id column (only working users count)."""
    if actor.operator:
        return true()
    if not actor.working_roles:
        return literal(False)
    return exists(
        select(consents.CONSENTS.c.id)
        .join(consents.SHARED, consents.SHARED.c.consent_id == consents.CONSENTS.c.id)
        .where(consents.CONSENTS.c.member_id == member_id_column,
               consents.SHARED.c.agency_id == actor.agency_id,
               consents.CONSENTS.c.scope_list.like(f"%,{scope},%"), consents.active()))

