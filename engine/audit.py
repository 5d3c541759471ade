"""The audit log: every read and every write, allowed or denied — who, when, what (case,
member, record, meeting), from where (CLI, web or API, with the address) and on which
basis (own agency, referral, consent, meeting, task, operator)."""
from __future__ import annotations

import atexit
import csv
import io
import queue
import threading

from sqlalchemy import insert, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from engine import clock, households
from engine.store import AuditEntry, Member

AUDIT = AuditEntry.__table__
MEMBERS = Member.__table__


def entry(actor, action: str, allowed: bool, basis: str | None = None, case_id: int | None = None,
          member_id: int | None = None, record_id: int | None = None,
          meeting_id: int | None = None, detail: str | None = None) -> dict:
    return {"actor": _loggable(actor.name, 100), "actor_agency": actor.agency,
            "channel": actor.channel, "origin": _loggable(actor.origin, 100), "action": action,
            "allowed": allowed, "basis": "operator" if actor.operator and allowed else basis,
            "case_id": case_id, "member_id": member_id, "record_id": record_id,
            "meeting_id": meeting_id, "detail": _loggable(detail, 500)}


def _loggable(text: str | None, length: int) -> str | None:
    """What a caller sent, as the log can keep it: cut to its column, with a NUL or a
    lone surrogate (which no query takes) written out as a backslash escape, so that a
    refused call is still logged."""
    if not text:
        return None
    if not text.isascii() or "\x00" in text:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text[:length]


def write(session: Session, entries: list[dict]) -> None:
    if entries:
        now = clock.now()
        session.connection().execute(insert(AUDIT), [{**e, "at": now} for e in entries])


def query(session: Session, case_id: int | None = None, person: str | None = None,
          limit: int = 1000) -> list[dict]:
    """Who accessed what, newest first: of a case, or of a person (every member of that
    name, in whatever case; reads of the whole case count for each of its members)."""
    condition = []
    if case_id is not None:
        condition.append(AUDIT.c.case_id == case_id)
    if person is not None:
        members = list(session.connection().execute(
            select(MEMBERS.c.id, MEMBERS.c.case_id).where(
                MEMBERS.c.search_name == households.normalise(person))))
        if not members:
            return []
        condition.append(or_(
            AUDIT.c.member_id.in_([m.id for m in members]),
            (AUDIT.c.member_id.is_(None) & AUDIT.c.case_id.in_({m.case_id for m in members}))))
    rows = session.connection().execute(
        select(AUDIT).where(*condition).order_by(AUDIT.c.id.desc()).limit(limit))
    return [{"at": r.at.astimezone(clock.LOCAL_TZ).isoformat(), "actor": r.actor or "（運用者）",
             "agency": r.actor_agency, "channel": r.channel, "origin": r.origin,
             "action": r.action, "allowed": bool(r.allowed), "basis": r.basis,
             "case_id": r.case_id, "member_id": r.member_id, "record_id": r.record_id,
             "meeting_id": r.meeting_id, "detail": r.detail} for r in rows]


CSV_COLUMNS = [("at", "日時"), ("actor", "利用者"), ("agency", "所属機関"), ("channel", "経路"),
               ("origin", "接続元"), ("action", "操作"), ("allowed", "結果"), ("basis", "根拠"),
               ("case_id", "ケース"), ("member_id", "世帯員"), ("record_id", "記録"),
               ("meeting_id", "会議"), ("detail", "詳細")]


def to_csv(rows: list[dict]) -> str:
    """UTF-8 with a BOM, so that Excel opens the Japanese as it is."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([label for _, label in CSV_COLUMNS])
    for row in rows:
        writer.writerow(["許可" if row[k] is True else "拒否" if row[k] is False else
                         ("" if row[k] is None else row[k]) for k, _ in CSV_COLUMNS])
    return "\ufeff" + out.getvalue()


class ReadAudit:
    """Writes the audit rows of reads without making a read wait for a writer.

    On PostgreSQL rows are written at once. On SQLite, whose one write lock a long step
    may hold, a read first tries to take the lock without waiting; if a writer has it,
    the rows go to a background thread that writes them as soon as that writer commits
    (``flush`` waits for it; so does the end of the process). The read answers at once.
    """

    def __init__(self, engine, Session):
        self.engine = engine
        self.Session = Session
        self.pending: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def write(self, entries: list[dict]) -> None:
        if not entries:
            return
        rows = [{**e, "at": clock.now()} for e in entries]
        if self.engine.dialect.name != "sqlite" or not self._try_now(rows):
            if self.engine.dialect.name != "sqlite":
                with self.Session.begin() as session:
                    session.connection().execute(insert(AUDIT), rows)
                return
            self.pending.put(rows)
            self._start()

    def _try_now(self, rows) -> bool:
        with self.engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            raw.execute("PRAGMA busy_timeout=0")
            try:
                with connection.begin():
                    connection.execute(insert(AUDIT), rows)
                return True
            except OperationalError:
                return False
            finally:
                raw.execute("PRAGMA busy_timeout=30000")

    def _start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._drain, name="kasane-read-audit",
                                               daemon=True)
                self.thread.start()
                atexit.register(self.flush)

    def _drain(self) -> None:
        while True:
            try:
                rows = self.pending.get(timeout=1)
            except queue.Empty:
                return
            try:
                with self.Session.begin() as session:
                    session.connection().execute(insert(AUDIT), rows)
            finally:
                self.pending.task_done()

    def flush(self) -> None:
        """Wait until every pending row is written."""
        self.pending.join()
