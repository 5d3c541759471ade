"""Meetings as records, by legal basis (domain §1, §4).

The forms that record a meeting declare it (``FormSchema.meeting``); a record creates the
meeting, or links the case to an existing one (one meeting discusses several cases).
Attendees of a 支援会議 acknowledge the duty of confidentiality (社会福祉法第106条の6第5項)
before its materials open to them.
"""
from __future__ import annotations

from sqlalchemy import exists, insert, select, update
from sqlalchemy.orm import Session

import forms
from engine import clock
from engine.errors import Forbidden, InvalidInput, NotFound
from engine.store import Meeting, MeetingAttendee, MeetingCase, User, parse_id

MEETINGS = Meeting.__table__
ATTENDEES = MeetingAttendee.__table__
AGENDA = MeetingCase.__table__
USERS = User.__table__
SUPPORT_MEETING = "support_meeting"
_RECORDED = "kasane.meeting_recorded"  # session.info: this unit of work recorded a meeting


def record(session: Session, case_id: int, form, values: dict, user) -> int | None:
    """Create or link the meeting a submitted form records; returns its id."""
    spec = form.meeting
    if spec.when and not values.get(spec.when):
        return None
    session.info[_RECORDED] = True
    connection = session.connection()
    meeting_id = _linked(session, spec, values)
    if meeting_id is None:
        minutes = {name: values.get(name) for name in spec.minutes if values.get(name)}
        agreements = values.get(spec.agreements) if spec.agreements else None
        if agreements is not None and not isinstance(agreements, list):
            agreements = [agreements]
        meeting_id = connection.execute(insert(MEETINGS).values(
            basis=spec.basis, timing=spec.timing,
            local_name=values.get(spec.local_name) if spec.local_name else None,
            held_on=values.get(spec.date) or clock.today(), convener=user.name,
            minutes=minutes, agreements=agreements or [],
            agencies=list(values.get(spec.agencies) or []) if spec.agencies else [],
            next_on=values.get(spec.next_date) if spec.next_date else None,
            created_at=clock.now())).inserted_primary_key[0]
    if user.user_id is not None:  # the secretariat who records it attends it
        _add_attendee(session, meeting_id, user.user_id, user.name, user.agency, acknowledged=True)
    for row in (values.get(spec.attendees) or []) if spec.attendees else []:
        _attendee_row(session, meeting_id, row, spec)
    if connection.scalar(select(AGENDA.c.case_id).where(AGENDA.c.meeting_id == meeting_id,
                                                        AGENDA.c.case_id == case_id)) is None:
        connection.execute(insert(AGENDA).values(meeting_id=meeting_id, case_id=case_id))
    return meeting_id


def _linked(session: Session, spec, values: dict) -> int | None:
    text = values.get(spec.link) if spec.link else None
    if not text:
        return None
    number = parse_id(text)
    meeting = session.connection().execute(select(MEETINGS).where(
        MEETINGS.c.id == number)).first() if number is not None else None
    if meeting is None or meeting.basis != spec.basis:
        raise InvalidInput(f"会議番号 {text} の{forms.MEETING_BASES[spec.basis]}はありません。",
                           {spec.link: "既存の会議の番号を入力してください。"})
    return meeting.id


def _attendee_row(session: Session, meeting_id: int, row: dict, spec) -> None:
    fields = spec.attendee
    user_name = (row.get(fields.user) or "").strip()
    if user_name:
        user = session.connection().execute(select(USERS.c.id, USERS.c.name)
                                            .where(USERS.c.name == user_name)).first()
        if user is None:
            raise InvalidInput(f"{spec.attendees}の{fields.user}「{user_name}」は登録されていません。",
                               {spec.attendees: f"{fields.user}「{user_name}」は登録されていません。"})
        # Users acknowledge the duty themselves; the row cannot do it for them.
        _add_attendee(session, meeting_id, user.id, row.get(fields.name) or user.name,
                      row.get(fields.affiliation), acknowledged=False)
    else:
        _add_attendee(session, meeting_id, None, row.get(fields.name), row.get(fields.affiliation),
                      acknowledged=bool(row.get(fields.acknowledged)))


def _add_attendee(session: Session, meeting_id: int, user_id, name, affiliation,
                  acknowledged: bool) -> None:
    connection = session.connection()
    if user_id is not None and connection.scalar(select(ATTENDEES.c.id).where(
            ATTENDEES.c.meeting_id == meeting_id, ATTENDEES.c.user_id == user_id)) is not None:
        return
    connection.execute(insert(ATTENDEES).values(
        meeting_id=meeting_id, user_id=user_id, name=name or "", affiliation=affiliation,
        acknowledged_at=clock.now() if acknowledged else None))


def get_meeting(session: Session, meeting_id):
    number = parse_id(meeting_id)
    meeting = session.connection().execute(select(MEETINGS).where(
        MEETINGS.c.id == number)).first() if number is not None else None
    if meeting is None:
        raise NotFound(f"会議 '{meeting_id}' が見つかりません。")
    return meeting


def attendance(session: Session, user_id: int | None) -> dict[int, bool]:
    """meeting id -> acknowledged, for every meeting the user attends."""
    if user_id is None:
        return {}
    return {row.meeting_id: row.acknowledged_at is not None
            for row in session.connection().execute(
                select(ATTENDEES.c.meeting_id, ATTENDEES.c.acknowledged_at)
                .where(ATTENDEES.c.user_id == user_id))}


def recorded_in(session: Session) -> bool:
    """Whether this session recorded a meeting: only that changes which meetings a case
    was on, or who attends them."""
    return session.info.get(_RECORDED, False)


def on_support_meeting_agenda(case_id_column):
    """Whether a 支援会議 discussed the case, as a condition on a case id column."""
    return exists().where(AGENDA.c.case_id == case_id_column, AGENDA.c.meeting_id == MEETINGS.c.id,
                          MEETINGS.c.basis == SUPPORT_MEETING)


def support_meetings_of_case(session: Session, case_id: int) -> list[int]:
    return list(session.connection().scalars(
        select(AGENDA.c.meeting_id).join(MEETINGS, MEETINGS.c.id == AGENDA.c.meeting_id)
        .where(AGENDA.c.case_id == case_id, MEETINGS.c.basis == SUPPORT_MEETING)))


def acknowledge(session: Session, meeting_id, user) -> dict:
    meeting = get_meeting(session, meeting_id)
    updated = session.connection().execute(
        update(ATTENDEES).where(ATTENDEES.c.meeting_id == meeting.id,
                                ATTENDEES.c.user_id == user.user_id,
                                ATTENDEES.c.acknowledged_at.is_(None))
        .values(acknowledged_at=clock.now()))
    if updated.rowcount == 0 and not attendance(session, user.user_id).get(meeting.id):
        raise Forbidden(f"会議 {meeting.id} の構成員ではありません。")
    return {"meeting_id": meeting.id, "acknowledged": True}


def cases_of(session: Session, meeting_id: int) -> list[int]:
    return list(session.connection().scalars(
        select(AGENDA.c.case_id).where(AGENDA.c.meeting_id == meeting_id).order_by(AGENDA.c.case_id)))


def meeting_dict(session: Session, meeting, with_minutes: bool) -> dict:
    attendees = session.connection().execute(
        select(ATTENDEES).where(ATTENDEES.c.meeting_id == meeting.id).order_by(ATTENDEES.c.id))
    result = {"meeting_id": meeting.id, "basis": meeting.basis,
              "種別": forms.MEETING_BASES.get(meeting.basis, meeting.basis),
              "時期": meeting.timing, "名称": meeting.local_name,
              "開催日": meeting.held_on.isoformat(), "記録者": meeting.convener,
              "構成員": [{"氏名": a.name, "所属": a.affiliation, "利用者": a.user_id is not None,
                        "守秘義務確認": a.acknowledged_at is not None} for a in attendees],
              "cases": cases_of(session, meeting.id)}
    if with_minutes:
        result.update({"議事": dict(meeting.minutes or {}), "合意事項": list(meeting.agreements or []),
                       "出席機関": list(meeting.agencies or []),
                       "次回予定日": meeting.next_on.isoformat() if meeting.next_on else None})
    return result
