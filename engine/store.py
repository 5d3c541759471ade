"""Database models and sessions (plain SQLAlchemy 2, no Flask).

Engine functions take a Session and never commit: the caller (CLI command, web request,
timer job) owns one transaction. SQLite is the embedded default; KASANE_DATABASE_URL
selects PostgreSQL.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, MetaData,
                        PrimaryKeyConstraint, String, Text, TypeDecorator, UniqueConstraint,
                        create_engine, event, exists)
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import (DeclarativeBase, Mapped, column_property, mapped_column, relationship,
                            sessionmaker)
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import Conflict, InvalidInput

DEFAULT_SQLITE_PATH = Path("instance") / "kasane.db"


def database_url() -> str:
    return os.environ.get("KASANE_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


# Every id and version column is INTEGER: 32 bits on PostgreSQL (SQLite would hold 64).
# A number past it is no row on either database, and PostgreSQL would refuse the query.
MAX_ID = 2**31 - 1


def parse_id(value) -> int | None:
    """An id or version number a caller gave (an int, or ASCII digits) as the database can
    hold it, or None: no row has it. The one place callers' numbers are checked, so
    that no query ever sees one out of range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip()
        # Full-width and other Unicode digits are not ids (README: ids are ASCII digits).
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(MAX_ID))):
            return None
        value = int(text)
    if not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_ID else None


class UTCDateTime(TypeDecorator):
    """Stores aware datetimes as UTC; SQLite drops tzinfo, so put it back on load."""
    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class AgencyKind(Base):
    """A kind of agency (地域包括支援センター …): a list the municipality can extend."""
    __tablename__ = "agency_kinds"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class Agency(Base):
    """An agency of the municipality's support network; every user belongs to one."""
    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(ForeignKey("agency_kinds.name"), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)  # the municipality's own
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    roles: Mapped[list[Any]] = mapped_column(default=list)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    password_hash: Mapped[Optional[str]] = mapped_column(String(255))  # None: cannot sign in
    created_at: Mapped[datetime]


class Deployment(Base):
    """One deployed version of one pathway (a BPMN process id)."""
    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("pathway", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    pathway: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[int]
    name: Mapped[Optional[str]] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    files: Mapped[dict[str, Any]] = mapped_column(deferred=True)  # file name -> XML text
    roles: Mapped[list[Any]] = mapped_column(default=list)  # the lane names of its processes
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[Optional[str]] = mapped_column(String(100))


class Case(Base):
    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    pathway: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open")
    stage: Mapped[Optional[str]] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)  # JSON-ready snapshot of case data
    timers: Mapped[list[Any]] = mapped_column(default=list)  # [{"name", "due"}], for summaries
    events: Mapped[list[Any]] = mapped_column(default=list)  # case events it waits for now
    # Who holds the case, beside case_agencies, so that lists check it on the case row they
    # join anyway: the receiving agency, and ",kind,kind," of the kinds it was referred to.
    receiving_agency_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agencies.id"), index=True)
    referred_kinds: Mapped[str] = mapped_column(String(500), default=",")
    state: Mapped[str] = mapped_column(Text)  # SpiffWorkflow state without the spec
    serializer_version: Mapped[str] = mapped_column(String(20))
    next_timer_at: Mapped[Optional[datetime]] = mapped_column(index=True)
    retry_at: Mapped[Optional[datetime]]  # after a failed sweep: not before this time
    opened_at: Mapped[datetime]
    opened_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
    version_id: Mapped[int] = mapped_column(Integer, nullable=False)
    deployment: Mapped[Deployment] = relationship(lazy="joined", innerjoin=True)
    __mapper_args__ = {"version_id_col": version_id}


class CaseAgency(Base):
    """Who holds a case: the agency that received it, or the agency kind it was referred to
    (every agency of that kind, including ones registered later)."""
    __tablename__ = "case_agencies"
    __table_args__ = (Index("ix_case_agencies_agency_id_case_id", "agency_id", "case_id"),
                      Index("ix_case_agencies_agency_kind_case_id", "agency_kind", "case_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    agency_id: Mapped[Optional[int]] = mapped_column(ForeignKey("agencies.id"))
    agency_kind: Mapped[Optional[str]] = mapped_column(String(100))
    basis: Mapped[str] = mapped_column(String(20))  # receiving / referral
    element: Mapped[Optional[str]] = mapped_column(String(200))  # the element that referred
    since: Mapped[datetime]


class HumanTask(Base):
    """Index of READY user tasks: inboxes query this and never deserialize workflows."""
    __tablename__ = "human_tasks"
    # Inbox indexes match the inbox orders, (due, created, id) and newest first (created,
    # id): by role, by claimer, all.
    __table_args__ = (Index("ix_human_tasks_inbox_role", "state", "role", "due_sort", "created_at", "id"),
                      Index("ix_human_tasks_inbox_claimed", "state", "claimed_by", "due_sort",
                            "created_at", "id"),
                      Index("ix_human_tasks_inbox", "state", "due_sort", "created_at", "id"),
                      Index("ix_human_tasks_newest_role", "state", "role", "created_at", "id"),
                      Index("ix_human_tasks_newest_claimed", "state", "claimed_by", "created_at", "id"),
                      Index("ix_human_tasks_newest", "state", "created_at", "id"),
                      Index("ix_human_tasks_case_id_state", "case_id", "state"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    spec_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Optional[str]] = mapped_column(String(100))
    form_key: Mapped[Optional[str]] = mapped_column(String(200))
    stage: Mapped[Optional[str]] = mapped_column(String(100))
    created_at: Mapped[datetime]
    due_at: Mapped[Optional[datetime]]
    due_sort: Mapped[datetime]  # due_at, or far in the future: one index serves the order
    assigned_to: Mapped[Optional[str]] = mapped_column(String(200))  # agency kinds (assignTo)
    reads: Mapped[Optional[str]] = mapped_column(String(500))  # case data the task reads (reads)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="open")  # open / completed / cancelled
    closed_at: Mapped[Optional[datetime]]
    closed_by: Mapped[Optional[str]] = mapped_column(String(100))


class Member(Base):
    """A member of the case's household (世帯員); one of them is 本人."""
    __tablename__ = "members"
    __table_args__ = (Index("ix_members_search_name", "search_name"),
                      Index("ix_members_search_kana", "search_kana"))
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))                # 氏名
    kana: Mapped[Optional[str]] = mapped_column(String(200))      # ふりがな
    relation: Mapped[Optional[str]] = mapped_column(String(50))   # 続柄
    birth_date: Mapped[Optional[date]] = mapped_column(Date)      # 生年月日
    flags: Mapped[dict[str, Any]] = mapped_column(default=dict)   # ヤングケアラー, 要介護度 …
    principal: Mapped[bool] = mapped_column(Boolean, default=False)  # 本人
    # Normalised (NFKC, no spaces, katakana as hiragana) for the name search.
    search_name: Mapped[str] = mapped_column(String(200))
    search_kana: Mapped[Optional[str]] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class MemberGram(Base):
    """Two-character pieces of a member's normalised 氏名 and ふりがな: the index that lets a
    partial-match search by name find its members without scanning every member."""
    __tablename__ = "member_grams"
    __table_args__ = (PrimaryKeyConstraint("gram", "case_id", "member_id"),
                      Index("ix_member_grams_member_id", "member_id"))
    gram: Mapped[str] = mapped_column(String(2))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))


class Record(Base):
    """A completed task form or a case event, kept exactly as it was submitted."""
    __tablename__ = "records"
    __table_args__ = (Index("ix_records_case_id_id", "case_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    kind: Mapped[str] = mapped_column(String(20))                  # task / event
    form_key: Mapped[Optional[str]] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))                 # the task or event name
    task_id: Mapped[Optional[str]] = mapped_column(String(36))
    element: Mapped[Optional[str]] = mapped_column(String(200))    # the BPMN element id
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)   # JSON-ready, as submitted
    scopes: Mapped[list[Any]] = mapped_column(default=list)        # 情報範囲 of its fields
    subject_id: Mapped[Optional[int]] = mapped_column(ForeignKey("members.id"))  # whom it is about
    row_members: Mapped[dict[str, Any]] = mapped_column(default=dict)  # rows field -> member ids
    meeting_id: Mapped[Optional[int]] = mapped_column(ForeignKey("meetings.id"))


class RecordMember(Base):
    """Which members a record concerns (its subject and the members its rows describe)."""
    __tablename__ = "record_members"
    __table_args__ = (PrimaryKeyConstraint("record_id", "member_id"),
                      Index("ix_record_members_member_id", "member_id"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))


class Consent(Base):
    """A 情報共有同意書: one member's consent to share, with whom, what, until when."""
    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    consenter: Mapped[str] = mapped_column(String(20))                 # 本人 / 代理人
    proxy_relation: Mapped[Optional[str]] = mapped_column(String(50))  # 代理人の続柄
    explainer: Mapped[Optional[str]] = mapped_column(String(200))      # 説明者
    consented_on: Mapped[date] = mapped_column(Date)                   # 同意日
    scopes: Mapped[list[Any]] = mapped_column(default=list)            # 情報範囲
    scope_list: Mapped[str] = mapped_column(String(200))  # ",基本情報,介護," for SQL filters
    purpose: Mapped[Optional[str]] = mapped_column(Text)               # 目的
    valid_until: Mapped[Optional[date]] = mapped_column(Date)          # 有効期限
    withdrawn_on: Mapped[Optional[date]] = mapped_column(Date)         # 撤回日
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id"))
    created_at: Mapped[datetime]


class ConsentAgency(Base):
    """An agency a consent shares with (共有先)."""
    __tablename__ = "consent_agencies"
    __table_args__ = (PrimaryKeyConstraint("consent_id", "agency_id"),
                      Index("ix_consent_agencies_agency_id", "agency_id"))
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))


class Meeting(Base):
    """A meeting by its legal basis: 支援会議 (第106条の6), 重層的支援会議, WG会議."""
    __tablename__ = "meetings"
    id: Mapped[int] = mapped_column(primary_key=True)
    basis: Mapped[str] = mapped_column(String(30), index=True)  # support_meeting / jusou_meeting / wg_meeting
    timing: Mapped[Optional[str]] = mapped_column(String(20))   # ①プラン策定 … ④中断
    local_name: Mapped[Optional[str]] = mapped_column(String(200))  # what the city calls it
    held_on: Mapped[date] = mapped_column(Date)
    convener: Mapped[str] = mapped_column(String(100))  # the user who recorded it (secretariat)
    minutes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    agreements: Mapped[list[Any]] = mapped_column(default=list)
    agencies: Mapped[list[Any]] = mapped_column(default=list)  # attending agencies, by name
    next_on: Mapped[Optional[date]] = mapped_column(Date)
    created_at: Mapped[datetime]


class MeetingAttendee(Base):
    """An attendee: a user, or a named outside member (a 民生委員, say) without an account."""
    __tablename__ = "meeting_attendees"
    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    affiliation: Mapped[Optional[str]] = mapped_column(String(200))
    acknowledged_at: Mapped[Optional[datetime]]  # 守秘義務 (第106条の6第5項) acknowledged


class MeetingCase(Base):
    """A case on a meeting's agenda."""
    __tablename__ = "meeting_cases"
    __table_args__ = (PrimaryKeyConstraint("meeting_id", "case_id"),
                      Index("ix_meeting_cases_case_id", "case_id"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))


class AuditEntry(Base):
    """Who accessed what, allowed or denied. Append-only: the database refuses UPDATE and
    DELETE on it (triggers, migration 0006). No foreign keys: it outlives what it names."""
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_case_id_id", "case_id", "id"),
                      Index("ix_audit_log_member_id_id", "member_id", "id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[Optional[str]] = mapped_column(String(100))  # None: the local operator
    actor_agency: Mapped[Optional[str]] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(10))            # cli / web / api
    origin: Mapped[Optional[str]] = mapped_column(String(100))  # a web request's address
    action: Mapped[str] = mapped_column(String(40))             # case.show, task.complete …
    allowed: Mapped[bool] = mapped_column(Boolean)
    basis: Mapped[Optional[str]] = mapped_column(String(200))   # receiving, consent:3 …
    case_id: Mapped[Optional[int]]
    member_id: Mapped[Optional[int]]
    record_id: Mapped[Optional[int]]
    meeting_id: Mapped[Optional[int]]
    detail: Mapped[Optional[str]] = mapped_column(String(500))


class ModelDraft(Base):
    """A pathway's model files being edited in the modeler, saved but not deployed."""
    __tablename__ = "model_drafts"
    id: Mapped[int] = mapped_column(primary_key=True)
    pathway: Mapped[str] = mapped_column(String(200), unique=True)
    files: Mapped[dict[str, Any]] = mapped_column(deferred=True)  # file name -> XML text
    based_on: Mapped[Optional[int]]  # the version it was opened from
    saved_by: Mapped[Optional[str]] = mapped_column(String(100))
    saved_at: Mapped[datetime]


class CaseMigration(Base):
    """A case moved to another version of its pathway, with what it takes to undo it."""
    __tablename__ = "case_migrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    to_deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    at: Mapped[datetime]
    actor: Mapped[Optional[str]] = mapped_column(String(100))
    previous_state: Mapped[str] = mapped_column(Text)  # the state as it was, for a revert
    case_version_after: Mapped[int]  # a revert restores the state only if nothing changed since
    reverted_at: Mapped[Optional[datetime]]


class Draft(Base):
    """A task form saved half-done by one user, to resume later."""
    __tablename__ = "drafts"
    __table_args__ = (UniqueConstraint("task_id", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    saved_at: Mapped[datetime]


class HistoryEntry(Base):
    """Append-only case history: opened, task completed, event, timer fired, incident."""
    __tablename__ = "case_history"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(30))
    actor: Mapped[Optional[str]] = mapped_column(String(100))
    task_id: Mapped[Optional[str]] = mapped_column(String(36))
    name: Mapped[Optional[str]] = mapped_column(String(200))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StepRecord(Base):
    """Every finished BPMN element of a case, kept before the task tree is compacted."""
    __tablename__ = "case_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    spec_id: Mapped[str] = mapped_column(String(200))
    previous_spec_id: Mapped[Optional[str]] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


class Incident(Base):
    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    message: Mapped[str] = mapped_column(Text)
    element: Mapped[Optional[str]] = mapped_column(String(200))
    retry_count: Mapped[int] = mapped_column(default=0)
    resolved_at: Mapped[Optional[datetime]]


# Read with the case, so that a step resolves incidents only on a case that has one open.
Case.open_incident = column_property(exists().where(Incident.case_id == Case.id,
                                                    Incident.resolved_at.is_(None)))


def _configure_sqlite(engine: SqlEngine, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Let us issue BEGIN ourselves: pysqlite's implicit transactions defer locking,
        # which turns concurrent writers into "database is locked" failures.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL survives any crash of the process; only a power cut can
        # lose the last commits.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # Writers queue up instead of failing half-way; a stale read is then caught by
        # the case version counter. Readers begin deferred: in WAL mode they never wait
        # for a writer.
        if connection.get_execution_options().get("kasane_read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _refuse_unstorable_text(conn, cursor, statement, parameters, context, executemany):
    """Text no database takes alike: PostgreSQL refuses NUL characters and neither
    database encodes lone surrogates (an argument not in UTF-8). Whatever text reaches a
    query (a name, a filter, a task id), it is refused here the same on both, before
    the driver fails with a traceback. Form data is refused earlier, naming the field."""
    if not parameters:
        return
    for row in (parameters if executemany else (parameters,)):
        for value in (row.values() if isinstance(row, dict) else row):
            if type(value) is not str:
                continue
            bad = "\x00" in value
            if not bad and not value.isascii():
                try:
                    value.encode("utf-8")
                except UnicodeEncodeError:
                    bad = True
            if bad:  # repr shows them as \x00 and \udcff
                raise InvalidInput("文字列に使えない文字（NUL 文字や UTF-8 にできない文字）が含まれています: "
                                   f"{value[:40]!r}", {"text": "使えない文字が含まれています。"})


def make_engine(url: str | None = None, foreign_keys: bool = True) -> SqlEngine:
    """``foreign_keys=False`` is for migrations only: SQLite rebuilds a table to alter it,
    which a table that others reference would otherwise refuse."""
    url = url or database_url()
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # LIFO: the connection used last is used again, with the statements PostgreSQL has
    # prepared on it (psycopg prepares a statement on its fifth use on a connection).
    engine = create_engine(url, pool_use_lifo=True)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine, foreign_keys)
    event.listen(engine, "before_cursor_execute", _refuse_unstorable_text)
    return engine


def make_sessionmaker(engine: SqlEngine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: SqlEngine) -> sessionmaker:
    """Sessions for reads that write nothing (on SQLite they take no write lock). On
    PostgreSQL a read plans each statement for the values it is given: psycopg prepares a
    statement it has run five times, and PostgreSQL may then plan it once for any values.
    For a list, whose best plan depends on the role, the cursor or the name searched, such
    a generic plan measured 2.5 times slower (and "are any timers due?" read every case)."""
    maker = sessionmaker(engine.execution_options(kasane_read_only=True), expire_on_commit=False)
    if engine.dialect.name == "postgresql":
        event.listen(maker, "after_begin", _plan_with_values)
    return maker


def _plan_with_values(session, transaction, connection) -> None:
    connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")


UNIQUE_VIOLATION = "23505"  # PostgreSQL's SQLSTATE


@contextmanager
def transaction(Session: sessionmaker):
    """One unit of work; a concurrent update of the same case becomes a Conflict, and so
    does a row that another transaction added first under the same unique key."""
    try:
        with Session.begin() as session:
            yield session
    except StaleDataError as exc:
        raise Conflict("他の操作が同時にこのケースを更新しました。読み込み直してからやり直してください。") from exc
    except IntegrityError as exc:
        # Every unique key is checked before its insert (a name already taken is a
        # Conflict of its own); on PostgreSQL two transactions can still both pass that
        # check. SQLite's writers never overlap (BEGIN IMMEDIATE), so there it cannot happen.
        if getattr(exc.orig, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        raise Conflict("他の操作が同時に同じものを登録しました。読み込み直してからやり直してください。") from exc
