"""The agency register: agencies, their kinds (a list the municipality extends), and which
agencies hold a case (the one that received it, and those it was referred to)."""
from __future__ import annotations

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import Conflict, InvalidInput, ModelFailure
from engine.store import Agency, AgencyKind, Case, CaseAgency

AGENCIES = Agency.__table__
HOLDERS = CaseAgency.__table__
NAME_LENGTH = 200
KIND_LENGTH = 100
REFERRED_LENGTH = Case.__table__.c.referred_kinds.type.length


def agency_dict(agency) -> dict:
    return {"agency": agency.name, "kind": agency.kind, "default": bool(agency.is_default)}


def kinds(session: Session) -> list[str]:
    return list(session.scalars(select(AgencyKind.name).order_by(AgencyKind.id)))


def add_kind(session: Session, name: str) -> dict:
    name = _clean(name, "種別", KIND_LENGTH)
    if name in kinds(session):
        raise Conflict(f"機関の種別「{name}」は既に登録されています。")
    session.add(AgencyKind(name=name))
    session.flush()
    return {"kind": name}


def add_agency(session: Session, name: str, kind: str) -> dict:
    name = _clean(name, "機関名", NAME_LENGTH)
    known = kinds(session)
    if kind not in known:
        raise InvalidInput(f"機関の種別「{kind}」はありません。",
                           {"kind": "次のいずれか: " + "、".join(known)})
    if find_agency(session, name) is not None:
        raise Conflict(f"機関「{name}」は既に登録されています。")
    agency = Agency(name=name, kind=kind, is_default=False, created_at=clock.now())
    session.add(agency)
    session.flush()
    return agency_dict(agency)


def list_agencies(session: Session) -> list[dict]:
    return [agency_dict(a) for a in session.scalars(select(Agency).order_by(Agency.id))]


def find_agency(session: Session, name: str):
    return session.connection().execute(select(AGENCIES).where(AGENCIES.c.name == name)).first()


def get_agency(session: Session, name: str | None):
    """The named agency, or the municipality's own when no name is given."""
    if name is None:
        return session.connection().execute(
            select(AGENCIES).where(AGENCIES.c.is_default.is_(True))).first()
    agency = find_agency(session, name)
    if agency is None:
        raise InvalidInput(f"機関「{name}」は登録されていません。先に kasane agency add で"
                           f"登録してください。", {"agency": "登録されていない機関です。"})
    return agency


def get_agency_by_id(session: Session, agency_id: int):
    return session.connection().execute(select(AGENCIES).where(AGENCIES.c.id == agency_id)).first()


def receive(session: Session, case, agency_id: int) -> None:
    """The agency that received the case holds it."""
    session.connection().execute(insert(HOLDERS), [{
        "case_id": case.id, "agency_id": agency_id, "agency_kind": None, "basis": "receiving",
        "element": None, "since": clock.now()}])
    case.receiving_agency_id = agency_id


def refer(session: Session, case, kinds_: list[str], element: str) -> None:
    """Refer a case to agencies of the given kinds (a model's ``referTo`` property): every
    agency of those kinds holds it, including ones registered later."""
    held = [k for k in (case.referred_kinds or ",").split(",") if k]
    new = [kind for kind in dict.fromkeys(kinds_) if kind not in held]
    stored = len(",".join(["", *held, *new, ""]))
    # Lint refuses a referTo that cannot fit; kinds gathered across versions (a migrated
    # case) or files may still add up past the column.
    if any(len(kind) > KIND_LENGTH for kind in new) or stored > REFERRED_LENGTH:
        raise ModelFailure(f"要素 {element} の referTo の紹介先の種別が長すぎます（種別は {KIND_LENGTH} "
                           f"文字まで、ケースの紹介先は合わせて {REFERRED_LENGTH} 文字まで）。",
                           {"element": element, "referTo": ",".join(new)[:200]}, case_id=case.id)
    if new:
        session.connection().execute(insert(HOLDERS), [{
            "case_id": case.id, "agency_id": None, "agency_kind": kind, "basis": "referral",
            "element": element, "since": clock.now()} for kind in new])
        case.referred_kinds = "," + "".join(f"{kind}," for kind in held + new)


def holders(session: Session, case_id: int) -> list[dict]:
    rows = session.connection().execute(
        select(AGENCIES.c.name, HOLDERS.c.agency_kind, AGENCIES.c.kind, HOLDERS.c.basis,
               HOLDERS.c.since)
        .outerjoin(AGENCIES, AGENCIES.c.id == HOLDERS.c.agency_id)
        .where(HOLDERS.c.case_id == case_id).order_by(HOLDERS.c.id))
    return [{"agency": r.name, "kind": r.kind or r.agency_kind, "basis": r.basis,
             "since": r.since.astimezone(clock.LOCAL_TZ).isoformat()} for r in rows]


def _clean(value: str, label: str, length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{label}を入力してください。", {"name": "必須項目です。"})
    if len(value) > length:
        raise InvalidInput(f"{label}は{length}文字以内にしてください（{len(value)}文字）。",
                           {"name": f"{length}文字以内にしてください。"})
    return value
