"""Database models and sessions (plain SQLAlchemy 2, no Flask).

Engine functions take a Session and never commit: the caller (CLI command, web request,
timer job) owns one transaction. SQLite is the embedded default; KASANE_DATABASE_URL
selects PostgreSQL.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import (JSON, Boolean, DateTime, ForeignKey, Index, Integer, MetaData, String,
                        Text, TypeDecorator, UniqueConstraint, create_engine, event)
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from engine.errors import Conflict

DEFAULT_SQLITE_PATH = Path("instance") / "kasane.db"


def database_url() -> str:
    return os.environ.get("KASANE_DATABASE_URL") or f"sqlite:///{DEFAULT_SQLITE_PATH}"


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
    """An agency holding a case: the one that received it, or one it was referred to."""
    __tablename__ = "case_agencies"
    __table_args__ = (UniqueConstraint("case_id", "agency_id"),
                      Index("ix_case_agencies_agency_id_case_id", "agency_id", "case_id"))
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    basis: Mapped[str] = mapped_column(String(20))  # receiving / referral
    element: Mapped[Optional[str]] = mapped_column(String(200))  # the element that referred
    since: Mapped[datetime]


class HumanTask(Base):
    """Index of READY user tasks: inboxes query this and never deserialize workflows."""
    __tablename__ = "human_tasks"
    __table_args__ = (Index("ix_human_tasks_state_role", "state", "role"),
                      Index("ix_human_tasks_case_id_state", "case_id", "state"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow task id
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    spec_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Optional[str]] = mapped_column(String(100))
    form_key: Mapped[Optional[str]] = mapped_column(String(200))
    stage: Mapped[Optional[str]] = mapped_column(String(100))
    created_at: Mapped[datetime]
    due_at: Mapped[Optional[datetime]] = mapped_column(index=True)
    claimed_by: Mapped[Optional[str]] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="open")  # open / completed / cancelled
    closed_at: Mapped[Optional[datetime]]
    closed_by: Mapped[Optional[str]] = mapped_column(String(100))


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


def _configure_sqlite(engine: SqlEngine) -> None:
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
        cursor.execute("PRAGMA foreign_keys=ON")
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


def make_engine(url: str | None = None) -> SqlEngine:
    url = url or database_url()
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


def make_sessionmaker(engine: SqlEngine) -> sessionmaker:
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: SqlEngine) -> sessionmaker:
    """Sessions for reads that write nothing (on SQLite they take no write lock)."""
    return sessionmaker(engine.execution_options(kasane_read_only=True), expire_on_commit=False)


@contextmanager
def transaction(Session: sessionmaker):
    """One unit of work; a concurrent update of the same case becomes a Conflict."""
    try:
        with Session.begin() as session:
            yield session
    except StaleDataError as exc:
        raise Conflict("他の操作が同時にこのケースを更新しました。読み込み直してからやり直してください。") from exc
