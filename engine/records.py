"""Every completed task form and case event, kept as its own record exactly as submitted:
which form, task, who, when, the values, the members it concerns and its 情報範囲.

What a form's fields mean for the household, consent and meetings is declared in the
form (see ``forms.base.FormSchema``); keeping a record applies those declarations.
"""
from __future__ import annotations

import json

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

import forms
from engine import clock, consents, households, meetings, state
from engine.store import Record, RecordMember, parse_id

RECORDS = Record.__table__
RECORD_MEMBERS = RecordMember.__table__


def keep(session: Session, case_id: int, kind: str, form_key: str | None, name: str,
         user, values: dict, task_id: str | None = None, element: str | None = None) -> int:
    """Keep a submitted form (``values`` as loaded by its schema) and apply what it declares."""
    form = forms.get_form(form_key) if form_key else None
    subject, row_members = households.apply_form(session, case_id, form, values) \
        if form is not None else (None, {})
    connection = session.connection()
    record_id, subject = connection.execute(insert(RECORDS).values(
        case_id=case_id, kind=kind, form_key=form_key, name=name, task_id=task_id,
        element=element, actor=user.name, at=clock.now(), values=state.json_ready(values),
        scopes=record_scopes(form, values), row_members=row_members, meeting_id=None,
        subject_id=subject if subject is not None else households.principal_id(case_id))
        .returning(RECORDS.c.id, RECORDS.c.subject_id)).one()
    concerned = {subject, *(m for ids in row_members.values() for m in ids)} - {None}
    if concerned:
        connection.execute(insert(RECORD_MEMBERS), [{"record_id": record_id, "member_id": m}
                                                    for m in sorted(concerned)])
    if form is not None and form.consent is not None:
        consents.record(session, case_id, form, values, record_id, subject)
    if form is not None and form.withdrawal is not None:
        consents.withdraw(session, case_id, form, values)
    if form is not None and form.meeting is not None:
        meeting_id = meetings.record(session, case_id, form, values, user)
        if meeting_id is not None:
            connection.execute(update(RECORDS).where(RECORDS.c.id == record_id)
                               .values(meeting_id=meeting_id))
    return record_id


def field_scope(form, name: str) -> str:
    field = form._declared_fields.get(name) if form is not None else None
    scope = field.metadata.get("scope") if field is not None else None
    return scope or (form.scope if form is not None else "支援経過")


def record_scopes(form, values: dict) -> list[str]:
    """The 情報範囲 of the fields a record fills in."""
    scopes: list[str] = []
    for name, value in values.items():
        if value in (None, "", [], False):
            continue
        field = form._declared_fields.get(name) if form is not None else None
        found = [field_scope(form, name)]
        if field is not None and field.metadata.get("widget") == "rows":
            row_form = field.inner.nested
            found = [field_scope(row_form, n) for row in value for n, v in row.items()
                     if v not in (None, "", [], False)]
        scopes += [s for s in found if s not in scopes]
    return [s for s in forms.SCOPES if s in scopes]


def records_of(session: Session, case_id: int) -> list:
    return list(session.connection().execute(
        select(RECORDS).where(RECORDS.c.case_id == case_id).order_by(RECORDS.c.id)))


def get_record(session: Session, case_id: int, record_id) -> object | None:
    number = parse_id(record_id)
    if number is None:
        return None
    return session.connection().execute(select(RECORDS).where(
        RECORDS.c.id == number, RECORDS.c.case_id == case_id)).first()


def visible_values(record, allowed: dict[int, set] | None) -> dict:
    """A record's values as a viewer may see them.

    ``allowed`` None: everything. Otherwise member id -> 情報範囲 the viewer may see: a
    value is shown when the member it belongs to (a row's member, else the record's
    subject) is allowed and its field's scope is in that member's 情報範囲.
    """
    values = dict(record.values or {})
    if allowed is None:
        return values
    form = forms.get_form(record.form_key) if record.form_key else None
    subject_scopes = allowed.get(record.subject_id, set())
    shown = {}
    for name, value in values.items():
        field = form._declared_fields.get(name) if form is not None else None
        if field is not None and field.metadata.get("widget") == "rows" and name in (record.row_members or {}):
            row_form = field.inner.nested
            ids = record.row_members[name]
            rows = []
            for row, member_id in zip(value or [], ids):
                scopes = allowed.get(member_id, set())
                kept = {k: v for k, v in row.items() if field_scope(row_form, k) in scopes}
                if kept:
                    rows.append(kept)
            if rows:
                shown[name] = rows
        elif field_scope(form, name) in subject_scopes:
            shown[name] = value
    return shown


def record_dict(record, values: dict) -> dict:
    return {"record_id": record.id, "kind": record.kind, "form": record.form_key,
            "name": record.name, "task_id": record.task_id, "actor": record.actor,
            "at": record.at.astimezone(clock.LOCAL_TZ).isoformat(),
            "subject_id": record.subject_id, "情報範囲": list(record.scopes or []),
            "meeting_id": record.meeting_id, "values": values}


class Withheld:
    """What of a case came from the 支援会議 records a viewer may not read (社会福祉法第106条
    の6: minutes are for that meeting's attendees only), so that every way of reading the
    case leaves it out: the case data those records gave, and their history entries.

    A record is a meeting's material because its form declares a meeting (``meeting`` in
    ``forms/``), and the access policy says which meetings the viewer may not read. A value
    of the case data is withheld while it is what such a record gave for that field (or a
    case event's whole payload) and no other record gave the same: a later form that set
    the field to something else makes it that form's, and a value another form gave too
    (the 対象者 a 同意確認 named) was never the meeting's alone.
    """

    def __init__(self, session: Session, case_id: int, meeting_ids: set[int]):
        self.records: set[int] = set()
        self.values: list[dict] = []
        self.given_openly: set[tuple[str, str]] = set()
        if not meeting_ids:
            return
        for row in session.connection().execute(
                select(RECORDS.c.id, RECORDS.c.meeting_id, RECORDS.c["values"])
                .where(RECORDS.c.case_id == case_id)):
            values = dict(row.values or {})
            if row.meeting_id in meeting_ids:
                self.records.add(row.id)
                self.values.append(values)
            else:
                self.given_openly |= {(name, _key(value)) for name, value in values.items()}

    def data(self, data: dict) -> dict:
        return {name: value for name, value in data.items() if not self._withheld(name, value)}

    def _withheld(self, name: str, value) -> bool:
        if (name, _key(value)) in self.given_openly:
            return False
        return any((name in given and given[name] == value) or value == given for given in self.values)

    def history(self, entries: list[dict]) -> list[dict]:
        """History entries, those of withheld records without the values they carry."""
        if not self.records:
            return entries
        shown = []
        for entry in entries:
            if entry.get("record_id") in self.records:
                entry = {k: v for k, v in entry.items() if k not in ("changes", "data")}
                entry["note"] = WITHHELD_NOTE
            shown.append(entry)
        return shown


def _key(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


WITHHELD_NOTE = "（支援会議の記録: 構成員のみ閲覧できます）"
