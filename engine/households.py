"""The household of a case (世帯): its members, one of them 本人.

Which form fields describe members is declared in the forms (``principal`` and
``members``); this module only applies those declarations.
"""
from __future__ import annotations

import unicodedata
from datetime import date

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

import forms
from engine import clock
from engine.errors import InvalidInput
from engine.store import Member, MemberGram

MEMBERS = Member.__table__
GRAMS = MemberGram.__table__
NAME_LENGTH = 200


def normalise(text: str | None) -> str:
    """Names as searched: NFKC, no spaces, katakana as hiragana, lower case; cut to the
    search columns, since NFKC can make a name longer (㍿ is 株式会社)."""
    text = unicodedata.normalize("NFKC", text or "")
    text = "".join(ch for ch in text if not ch.isspace())
    return "".join(chr(ord(ch) - 0x60) if "ァ" <= ch <= "ヶ" else ch for ch in text).lower()[:NAME_LENGTH]


def find_member(session: Session, case_id: int, name: str):
    key = normalise(name)
    if not key:
        return None
    return session.connection().execute(
        select(MEMBERS).where(MEMBERS.c.case_id == case_id, MEMBERS.c.search_name == key)
        .order_by(MEMBERS.c.id)).first()


def principal_of(session: Session, case_id: int):
    return session.connection().execute(
        select(MEMBERS).where(MEMBERS.c.case_id == case_id, MEMBERS.c.principal.is_(True))).first()


def members_of(session: Session, case_id: int) -> list:
    return list(session.connection().execute(
        select(MEMBERS).where(MEMBERS.c.case_id == case_id)
        .order_by(MEMBERS.c.principal.desc(), MEMBERS.c.id)))


def upsert(session: Session, case_id: int, name: str, *, kana=None, relation=None,
           birth_date=None, flags=None, principal: bool = False) -> int:
    """Add the member, or update the one of that name (本人 when ``principal``)."""
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("世帯員の氏名がありません。")
    if len(name) > NAME_LENGTH:
        raise InvalidInput(f"世帯員の氏名は{NAME_LENGTH}文字以内にしてください。")
    existing = principal_of(session, case_id) if principal else None
    existing = existing or find_member(session, case_id, name)
    now = clock.now()
    values = {"name": name, "search_name": normalise(name), "updated_at": now}
    if kana:
        values.update(kana=kana, search_kana=normalise(kana))
    if relation:
        values["relation"] = relation
    if isinstance(birth_date, date):
        values["birth_date"] = birth_date
    if principal:
        values["principal"] = True
    connection = session.connection()
    if existing is not None:
        if flags:
            values["flags"] = {**(existing.flags or {}), **flags}
        connection.execute(update(MEMBERS).where(MEMBERS.c.id == existing.id).values(**values))
        member_id = existing.id
        index_name(session, case_id, member_id, values["search_name"],
                   values.get("search_kana", existing.search_kana))
        return member_id
    values.setdefault("principal", False)
    values.setdefault("search_kana", None)
    values.update(case_id=case_id, flags=flags or {}, created_at=now)
    member_id = connection.execute(insert(MEMBERS).values(**values)).inserted_primary_key[0]
    index_name(session, case_id, member_id, values["search_name"], values["search_kana"])
    return member_id


def grams(text: str) -> set[str]:
    """The two-character pieces of a normalised text (a one-character text: itself)."""
    if len(text) < 2:
        return {text} if text else set()
    return {text[i:i + 2] for i in range(len(text) - 1)}


def index_name(session: Session, case_id: int, member_id: int, search_name: str,
               search_kana: str | None) -> None:
    connection = session.connection()
    connection.execute(delete(GRAMS).where(GRAMS.c.member_id == member_id))
    pieces = grams(search_name) | grams(search_kana or "")
    if pieces:
        connection.execute(insert(GRAMS), [{"gram": g, "case_id": case_id, "member_id": member_id}
                                           for g in sorted(pieces)])


def _flags(person, values: dict) -> dict:
    """The flag fields that are set: ticked, or a value other than なし."""
    return {field: values[field] for field in person.flags
            if values.get(field) not in (None, False, "", "なし", [])}


def apply_form(session: Session, case_id: int, form, values: dict) -> tuple[int | None, dict]:
    """Add or update the members a submitted form describes.

    Returns the record's subject (the member named by ``concerns``, else the principal the
    form describes, else None: the case's 本人, see ``principal_id``) and, per rows field,
    the member of each row.
    """
    subject = None
    person = getattr(form, "principal", None)
    if person is not None and values.get(person.name):
        subject = upsert(session, case_id, values[person.name],
                         kana=values.get(person.kana) if person.kana else None,
                         relation=person.relation_value or values.get(person.relation or ""),
                         birth_date=values.get(person.birth_date) if person.birth_date else None,
                         flags=_flags(person, values), principal=True)
    row_members: dict[str, list] = {}
    for field, row_person in (getattr(form, "members", None) or {}).items():
        ids = []
        for row in values.get(field) or []:
            if not row.get(row_person.name):
                ids.append(None)
                continue
            relation = row.get(row_person.relation) if row_person.relation else None
            ids.append(upsert(session, case_id, row[row_person.name],
                              kana=row.get(row_person.kana) if row_person.kana else None,
                              relation=relation,
                              birth_date=row.get(row_person.birth_date) if row_person.birth_date else None,
                              flags=_flags(row_person, row), principal=relation == "本人"))
        row_members[field] = ids
    concerns = getattr(form, "concerns", None)
    if concerns and values.get(concerns):
        subject = upsert(session, case_id, values[concerns])
    return subject, row_members


def principal_id(case_id: int):
    """The id of the case's 本人, as a scalar subquery (so a record names its subject in
    the statement that writes it)."""
    return select(MEMBERS.c.id).where(MEMBERS.c.case_id == case_id, MEMBERS.c.principal.is_(True)) \
        .limit(1).scalar_subquery()


def member_dict(member) -> dict:
    return {"member_id": member.id, "氏名": member.name, "ふりがな": member.kana,
            "続柄": member.relation,
            "生年月日": member.birth_date.isoformat() if member.birth_date else None,
            "本人": bool(member.principal), "flags": dict(member.flags or {})}


def flag_scopes() -> dict[str, str]:
    """The 情報範囲 of each flag field, from the forms that declare member rows."""
    scopes = {}
    for form in forms.FORMS.values():
        for field, person in (form.members or {}).items():
            row_form = form._declared_fields[field].inner.nested
            for flag in person.flags:
                meta = row_form._declared_fields[flag].metadata
                scopes.setdefault(flag, meta.get("scope") or row_form.scope)
    return scopes

