"""Consent per member (情報共有同意書, domain §3): recorded by the forms that declare it,
ended at once by a withdrawal, and no longer counted after its 有効期限 by itself."""
from __future__ import annotations

from datetime import date

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from engine import agencies, clock, households
from engine.errors import InvalidInput
from engine.store import Agency, Consent, ConsentAgency

CONSENTS = Consent.__table__
SHARED = ConsentAgency.__table__
AGENCIES = Agency.__table__


def active(today: date | None = None):
    """The SQL condition of a consent that counts today."""
    today = today or clock.today()
    return and_(CONSENTS.c.withdrawn_on.is_(None),
                or_(CONSENTS.c.valid_until.is_(None), CONSENTS.c.valid_until >= today))


def record(session: Session, case_id: int, form, values: dict, record_id: int,
           subject_id: int | None) -> int | None:
    """Keep the consent a submitted form gives, if it gives one."""
    fields = form.consent
    if values.get(fields.given) not in fields.given_values:
        return None
    member_id = subject_id
    if fields.member and values.get(fields.member):
        member_id = households.upsert(session, case_id, values[fields.member])
    if member_id is None:
        raise InvalidInput("同意した世帯員がわかりません。対象者の氏名を入力してください。",
                           {fields.member or fields.given: "必須項目です。"})
    shared = list(dict.fromkeys(values.get(fields.agencies) or [])) if fields.agencies else []
    found = {a.name: a.id for a in session.connection().execute(
        select(AGENCIES.c.id, AGENCIES.c.name).where(AGENCIES.c.name.in_(shared)))} if shared else {}
    unknown = [name for name in shared if name not in found]
    if unknown:
        known = "、".join(a["agency"] for a in agencies.list_agencies(session))
        raise InvalidInput(f"共有先「{'」「'.join(unknown)}」は登録されていない機関です。",
                           {fields.agencies: f"登録された機関から選んでください: {known}"})
    scopes = list(dict.fromkeys(values.get(fields.scopes) or [])) if fields.scopes else []

    def value(name):
        return values.get(name) if name else None

    connection = session.connection()
    consent_id = connection.execute(insert(CONSENTS).values(
        case_id=case_id, member_id=member_id, consenter=value(fields.consenter) or "本人",
        proxy_relation=value(fields.proxy_relation), explainer=value(fields.explainer),
        consented_on=value(fields.date) or clock.today(), scopes=scopes,
        scope_list="," + ",".join(scopes) + ",", purpose=value(fields.purpose),
        valid_until=value(fields.valid_until), withdrawn_on=None, record_id=record_id,
        created_at=clock.now())).inserted_primary_key[0]
    if shared:
        connection.execute(insert(SHARED), [{"consent_id": consent_id, "agency_id": found[name]}
                                            for name in shared])
    return consent_id


def withdraw(session: Session, case_id: int, form, values: dict) -> int:
    """End the consents of the named member (of every member if none is named) at once."""
    fields = form.withdrawal
    query = update(CONSENTS).where(CONSENTS.c.case_id == case_id, CONSENTS.c.withdrawn_on.is_(None))
    if fields.member and values.get(fields.member):
        member = households.find_member(session, case_id, values[fields.member])
        if member is None:
            raise InvalidInput(f"世帯員「{values[fields.member]}」はこのケースにいません。",
                               {fields.member: "世帯員の氏名を入力してください。"})
        query = query.where(CONSENTS.c.member_id == member.id)
    withdrawn_on = values.get(fields.date) or clock.today()
    return session.connection().execute(query.values(withdrawn_on=withdrawn_on)).rowcount


def consents_of(session: Session, case_id: int) -> list[dict]:
    """Every consent of the case with its 共有先, newest first per member."""
    connection = session.connection()
    rows = list(connection.execute(select(CONSENTS).where(CONSENTS.c.case_id == case_id)
                                   .order_by(CONSENTS.c.member_id, CONSENTS.c.id.desc())))
    shared: dict[int, list[str]] = {}
    if rows:
        for consent_id, name in connection.execute(
                select(SHARED.c.consent_id, AGENCIES.c.name)
                .join(AGENCIES, AGENCIES.c.id == SHARED.c.agency_id)
                .where(SHARED.c.consent_id.in_([r.id for r in rows])).order_by(AGENCIES.c.id)):
            shared.setdefault(consent_id, []).append(name)
    today = clock.today()
    return [consent_dict(r, shared.get(r.id, []), today) for r in rows]


def consent_dict(row, shared: list[str], today: date) -> dict:
    if row.withdrawn_on is not None:
        state = "撤回"
    elif row.valid_until is not None and row.valid_until < today:
        state = "期限切れ"
    else:
        state = "有効"
    return {"consent_id": row.id, "member_id": row.member_id, "状態": state,
            "同意者": row.consenter, "代理人続柄": row.proxy_relation, "説明者": row.explainer,
            "同意日": row.consented_on.isoformat(), "共有先": shared,
            "情報範囲": list(row.scopes or []), "目的": row.purpose,
            "有効期限": row.valid_until.isoformat() if row.valid_until else None,
            "撤回日": row.withdrawn_on.isoformat() if row.withdrawn_on else None,
            "record_id": row.record_id}


def scopes_for(session: Session, case_id: int, agency_id: int) -> dict[int, tuple[int, set]]:
    """member id -> (consent id, 情報範囲) of the active consents naming the agency."""
    rows = session.connection().execute(
        select(CONSENTS.c.id, CONSENTS.c.member_id, CONSENTS.c.scopes)
        .join(SHARED, SHARED.c.consent_id == CONSENTS.c.id)
        .where(CONSENTS.c.case_id == case_id, SHARED.c.agency_id == agency_id, active())
        .order_by(CONSENTS.c.id))
    granted: dict[int, tuple[int, set]] = {}
    for consent_id, member_id, scopes in rows:
        earlier = granted.get(member_id, (consent_id, set()))[1]
        granted[member_id] = (consent_id, earlier | set(scopes or []))
    return granted
