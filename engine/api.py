"""The engine's one Python API. The CLI, the behaviour specs and the web UI call this.

Every call knows who is asking (``actor``: a user name, or None for the local operator),
goes through the one access policy (``engine.access``) and leaves audit rows, allowed or
denied. Each call is one transaction; a read writes its audit rows in a short
transaction of their own afterwards (on SQLite a read never waits for a writer). A read
resolves who is asking and asks the policy first; only for someone who may see the case
does it fire the case's timers that are due. A model that fails while a case runs rolls
the step back and leaves an incident on the case.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import SQLAlchemyError

import forms
from forms.validation import check_data, check_flat_object, validate_form
from engine import (access, agencies, audit, case_migration, cases, clock, consents, coverage,
                    deployments, events, drafts, households, human_tasks, incidents, meetings,
                    records, search, sweep, users, versions)
from engine.errors import Conflict, Forbidden, InvalidInput, KasaneError, ModelFailure, NotFound
from engine.store import (Case, database_url, make_engine, make_read_sessionmaker,
                          make_sessionmaker, parse_id, transaction)
from engine.unit_of_work import get_case_row, load_case, timers_due

TaskFilter = human_tasks.TaskFilter


class Call:
    """One engine call: the actor and the audit rows it leaves."""

    def __init__(self, actor: access.Actor):
        self.actor = actor
        self.entries: list[dict] = []

    def log(self, action: str, allowed: bool = True, basis: str | None = None, **what) -> None:
        self.entries.append(audit.entry(self.actor, action, allowed, basis, **what))


class Kasane:
    def __init__(self, url: str | None = None, channel: str = "api"):
        self.url = url or database_url()
        self.db = make_engine(self.url)
        self.Session = make_sessionmaker(self.db)
        self.ReadSession = make_read_sessionmaker(self.db)
        self.read_audit = audit.ReadAudit(self.db, self.Session)
        self.channel = channel
        self.origin: str | None = None

    def via(self, channel: str | None = None, origin: str | None = None) -> "Kasane":
        """The same engine, for calls that come from a channel and address (a web request)."""
        other = copy.copy(self)
        other.channel = channel or self.channel
        other.origin = origin
        return other

    def transaction(self):
        return transaction(self.Session)

    def reading(self):
        return transaction(self.ReadSession)

    def close(self) -> None:
        self.read_audit.flush()
        self.db.dispose()

    # --- models, agencies, users ---------------------------------------------------------

    def upgrade_database(self) -> None:
        from engine import migrate  # Alembic is slow to import; only this command needs it
        migrate.upgrade(self.url)

    def lint(self, paths) -> dict:
        """Lint as deploy would; warnings need the database (lanes nobody holds), so a
        database that is not set up yet gives problems only."""
        try:
            with self.reading() as session:
                users.known_roles(session)  # raises if the database is not migrated
                return deployments.lint(paths, session)
        except SQLAlchemyError:
            return deployments.lint(paths)

    def deploy(self, paths, actor: str | None = None) -> list[dict]:
        raw = deployments.read_model_bytes(paths)
        return self._deploy(lambda: raw, actor)

    def deploy_files(self, files: dict, actor: str | None = None) -> list[dict]:
        """Deploy model files given as content ({name: XML}), as the modeler sends them."""
        return self._deploy(lambda: deployments.given_files(files), actor)

    def _deploy(self, read_files, actor: str | None) -> list[dict]:
        with self._writing(actor) as (session, call):
            self._require_manager(call, "パスウェイのデプロイ")  # before the files say anything
            raw = read_files()
            call.log("pathway.deploy", basis="manager", detail=",".join(sorted(raw)))
            deployed = deployments.deploy_bytes(session, raw, call.actor.name)  # refused: audited as failed
            call.entries[-1]["detail"] = ",".join(f"{d['pathway']} v{d['version']}" for d in deployed)
            for item in deployed:
                if item["new"]:
                    versions.discard_draft(session, item["pathway"])
            return deployed

    def lint_files(self, files: dict, actor: str | None = None) -> dict:
        """Lint model files given as content, with the same code as ``lint``. A user (the
        modeler) must be a manager; the local operator may lint before the database exists."""
        if actor is not None:
            with self._reading(actor) as (session, call):
                self._require_manager(call, "モデルの検査")
                raw = deployments.given_files(files)
                call.log("pathway.lint", basis="manager", detail=",".join(sorted(raw))[:200])
                return deployments.lint_bytes(raw, session)
        raw = deployments.given_files(files)
        try:
            with self.reading() as session:
                users.known_roles(session)
                return deployments.lint_bytes(raw, session)
        except SQLAlchemyError:
            return deployments.lint_bytes(raw)

    def pathway_files(self, pathway: str, version=None, actor: str | None = None) -> dict:
        """A version's files (default: the latest), and the saved draft if there is one."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "モデルの表示")
            call.log("pathway.files", basis="manager", detail=f"{pathway} {version or '最新'}")
            result = versions.files_of(session, pathway, version)
            result["draft"] = versions.get_draft(session, pathway)
            return result

    def save_model_draft(self, pathway: str, files: dict, based_on=None, actor: str | None = None) -> dict:
        """Keep the modeler's files without deploying them (not checked: drafts may be broken)."""
        with self._writing(actor) as (session, call):
            self._require_manager(call, "モデルの下書きの保存")
            texts = {name: data.decode("utf-8", "replace") for name, data in
                     deployments.given_files(files).items()}
            call.log("pathway.draft", basis="manager", detail=pathway)
            return versions.save_draft(session, pathway[:200], texts, based_on, call.actor.name)

    def modeling_vocabulary(self, actor: str | None = None) -> dict:
        """What the modeler offers in its lists: the form keys and the known roles."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "モデルの編集")
            call.log("pathway.vocabulary", basis="manager")
            return {"forms": {key: form.title for key, form in forms.FORMS.items()},
                    "roles": users.known_roles(session), "kinds": agencies.kinds(session)}

    def task_stages(self) -> list[str]:
        """The stages the user tasks of the deployed pathways name (latest versions), for
        an inbox's stage filter. Model vocabulary, like the above: no case, not audited."""
        with self.reading() as session:
            return deployments.task_stages(session)

    def add_agency(self, name: str, kind: str, actor: str | None = None) -> dict:
        with self._writing(actor) as (session, call):
            self._require_manager(call, "機関の登録")
            call.log("agency.add", detail=name)
            return agencies.add_agency(session, name, kind)

    def list_agencies(self) -> list[dict]:
        with self.reading() as session:
            return agencies.list_agencies(session)

    def add_agency_kind(self, name: str, actor: str | None = None) -> dict:
        with self._writing(actor) as (session, call):
            self._require_manager(call, "機関の種別の追加")
            call.log("agency.kind.add", detail=name)
            return agencies.add_kind(session, name)

    def list_agency_kinds(self) -> list[str]:
        with self.reading() as session:
            return agencies.kinds(session)

    def add_user(self, name: str, roles: list[str], agency: str | None = None,
                 password: str | None = None, actor: str | None = None) -> dict:
        with self._writing(actor) as (session, call):
            self._require_manager(call, "利用者の登録")
            call.log("user.add", detail=name)
            return users.add_user(session, name, roles, agency, password)

    def verify_password(self, name: str, password: str) -> dict | None:
        """The user (name, roles, agency) if the password is right, else None. Audited."""
        with self.reading() as session:
            user = users.verify_password(session, name, password)
            found = users.user_dict(user) if user is not None else None
        with self.transaction() as session:
            audit.write(session, [audit.entry(access.Actor(name[:100], channel=self.channel,
                                                           origin=self.origin),
                                              "auth.sign_in", found is not None)])
        return found

    def get_user(self, name: str) -> dict | None:
        """A user's name, roles and agency (for the web session), or None."""
        with self.reading() as session:
            user = users.find_user(session, name)
            return users.user_dict(user) if user is not None else None

    # --- cases -----------------------------------------------------------------------------

    def open_case(self, pathway: str, actor: str, data: dict | None = None) -> dict:
        with self._writing(actor, required=True) as (session, call):
            call.log("case.open", basis="receiving", detail=str(pathway)[:200])
            data = check_flat_object(data or {})
            opened = cases.open_case(session, pathway, call.actor, data)
            call.entries[-1]["case_id"] = opened.row.id
            return self._as_seen(session, call, opened)

    def first_task(self, pathway: str) -> dict:
        """The user task a new case of the pathway (its latest version) opens with: element,
        name, form key and role. It reads the model only, no case: not audited."""
        with self.reading() as session:
            return self._first_task(session, pathway)

    @staticmethod
    def _first_task(session, pathway: str) -> dict:
        deployment = deployments.latest_deployment(session, pathway)
        if deployment is None:
            raise NotFound(f"パスウェイ '{pathway}' はデプロイされていません。")
        first = cases.first_user_task(deployments.load_pathway(deployment))
        if first is None:
            raise NotFound(f"パスウェイ '{pathway}' にはユーザータスクがありません。")
        return first

    def open_case_and_complete_first_task(self, pathway: str, actor: str, data: dict | None = None) -> dict:
        """A new consultation in one step: open a case and complete the user task it opens
        with (``first_task``) with ``data``, in one transaction. The form and the actor's
        role are checked before anything is stored, and any later refusal rolls the new
        case back with it: a refused form leaves no case behind."""
        check_data({} if data is None else data)
        with self._writing(actor, required=True) as (session, call):
            first = self._first_task(session, pathway)
            if first["role"] and first["role"] not in call.actor.roles and not call.actor.operator:
                call.log("case.open", False, "none", detail=first["name"])
                raise Forbidden(f"「{first['name']}」は役割「{first['role']}」の利用者だけが行えます。")
            values = validate_form(first["form"], data) if first["form"] else check_flat_object(data or {})
            new = cases.open_case(session, pathway, call.actor, {})
            call.log("case.open", basis="receiving", case_id=new.row.id)
            opened = [t for t in new.open_tasks if t["element"] == first["element"]]
            if not opened:
                raise ModelFailure(f"新しいケースで最初のタスク「{first['name']}」が開きませんでした。"
                                   f"パスウェイ '{pathway}' のモデルを確認してください。")
            task = human_tasks.get_task(session, opened[0]["task_id"])
            seen = self._to_work(session, call, task, "task.complete")
            done = human_tasks.complete_task(session, task, call.actor, values)
            return self._as_seen(session, call, done, seen)

    def show_case(self, case_id, actor: str | None = None) -> dict:
        def check(seen):
            if not (seen.full or seen.consents or seen.tasks):
                seen.deny("このケースを見る権限がありません。")

        with self._reading(actor) as (session, call):
            row, seen = self._visible_case(session, call, case_id, "case.show", check)
            view = cases.view(session, row, seen)
            if seen.full:
                call.log("case.show", basis=seen.basis, case_id=row.id)
            else:
                for member in view["household"]:
                    consent = seen.consents.get(member["member_id"])
                    call.log("case.show", basis=f"consent:{consent[0]}" if consent else "task",
                             case_id=row.id, member_id=member["member_id"])
                if not view["household"]:
                    call.log("case.show", basis=seen.basis, case_id=row.id)
            return view

    def show_record(self, case_id, record_id, actor: str | None = None) -> dict:
        """One kept record, exactly as it was submitted (as far as the actor may see it)."""
        with self._reading(actor) as (session, call):
            row, seen = self._visible_case(session, call, case_id, "record.show", _knows, fire=False)
            record = records.get_record(session, row.id, record_id)
            if record is None:
                call.log("record.show", False, seen.basis, case_id=row.id, detail=str(record_id)[:50])
                raise NotFound(f"記録 '{record_id}' が見つかりません。")
            if record.meeting_id in seen.meetings and access.sees_minutes(seen, record.meeting_id) \
                    and not seen.full:
                values, basis = dict(record.values or {}), f"meeting:{record.meeting_id}"
            else:
                values, basis = records.visible_values(record, seen.allowed_scopes()), seen.basis
            if not access.sees_minutes(seen, record.meeting_id) or not (seen.full or values):
                call.log("record.show", False, seen.basis, case_id=row.id, record_id=record.id)
                seen.deny("この記録を見る権限がありません。")
            call.log("record.show", basis=basis, case_id=row.id, record_id=record.id,
                     member_id=record.subject_id)
            return records.record_dict(record, values)

    def send_event(self, case_id, message: str, actor: str, data: dict | None = None) -> dict:
        with self._writing(actor, required=True) as (session, call):
            row = self._case(session, call, case_id, "case.event")
            seen = access.for_case(session, call.actor, row, to_work=True)
            call.log("case.event", bool(seen.full or seen.tasks), seen.basis, case_id=row.id,
                     detail=str(message)[:200])
            access.require_case_work(seen, f"「{message}」の記録")
            form_key = message if forms.get_form(message) else None  # an event's form: its name
            values = validate_form(form_key, data)
            changed = events.send_event(session, row.id, message, call.actor, values, form_key)
            return self._as_seen(session, call, changed, seen)

    def search_cases(self, query: str, actor: str | None = None, limit: int = 50,
                     after: str | None = None) -> list[dict]:
        """Members by 氏名 or ふりがな (partial match), in the cases the actor may see."""
        with self._reading(actor) as (session, call):
            try:
                found = search.search(session, call.actor, query, limit, after)
            except InvalidInput:
                call.log("case.search", detail="検索語の誤り")
                raise
            for hit in found:
                call.log("case.search", basis=hit["basis"], case_id=hit["case_id"],
                         member_id=hit["member_id"])
            if not found:
                call.log("case.search", detail="該当なし")
            return found

    # --- tasks -----------------------------------------------------------------------------

    def list_tasks(self, case_id=None, role: str | None = None, actor: str | None = None,
                   wanted: TaskFilter | None = None) -> list[dict]:
        wanted = wanted or TaskFilter()
        if role is not None:
            wanted = replace(wanted, role=role)
        with self._reading(actor) as (session, call):
            if case_id is not None:
                row, seen = self._visible_case(session, call, case_id, "tasks.list", _knows)
                wanted = replace(wanted, case_id=row.id)
            elif self._timers_due_anywhere(session):
                _end_read(session)
                self.run_timers()
            tasks = human_tasks.list_tasks(session, call.actor, wanted)
            listed = list(dict.fromkeys(t["case_id"] for t in tasks))
            for number in listed:
                call.log("tasks.list", basis="inbox", case_id=number)
            if case_id is not None and not listed:
                call.log("tasks.list", basis=seen.basis, case_id=wanted.case_id, detail="該当なし")
            elif not listed:
                call.log("tasks.list", basis="inbox", detail="該当なし")
            return tasks

    def get_task(self, task_id: str, actor: str) -> dict:
        """An open task as its form page needs it: the task, its case header, the data the
        task reads, and the case version the form is shown with (for stale submissions)."""
        with self._reading(actor, required=True) as (session, call):
            row = self._task(session, call, task_id, "task.show")

            def check(seen):
                if not access.may_work(seen, row) and not seen.full:
                    access.require_task(seen, call.actor, row)

            case, seen = self._visible_case(session, call, row.case_id, "task.show", check)
            row = human_tasks.get_task(session, row.id)  # as it is after any due timers
            data = cases.summary_for(session, case, seen)["data"]
            if not seen.full:  # the data this task reads, not that of the actor's other tasks
                reads = {n.strip() for n in (row.reads or "").split(",") if n.strip()}
                data = {k: v for k, v in data.items() if k in reads}
            call.log("task.show", basis=seen.basis, case_id=row.case_id, detail=row.name)
            return {"task_id": row.id, "name": row.name, "role": row.role, "form": row.form_key,
                    "state": row.state, "claimed_by": row.claimed_by, "stage": row.stage,
                    "due": row.due_at.astimezone(clock.LOCAL_TZ).isoformat() if row.due_at else None,
                    "overdue": row.due_at is not None and row.due_at < clock.now(),
                    "case_id": case.id, "case_version": case.version_id, "case_stage": case.stage,
                    "data": data, "may_complete": access.may_work(seen, row),
                    "draft": drafts.load(session, row.id, call.actor.user_id)}

    def save_draft(self, task_id: str, actor: str, data: dict) -> dict:
        """Keep a half-done form (not checked against the form, but storable) for the actor
        to resume; one per task and user."""
        with self._writing(actor, required=True) as (session, call):
            row = self._task(session, call, task_id, "task.draft")
            self._to_work(session, call, row, "task.draft")
            if not isinstance(data, dict):
                raise InvalidInput("下書きは JSON オブジェクトで指定してください。")
            check_data(data)
            human_tasks.require_open(row)
            drafts.save(session, row.id, call.actor.user_id, data)
            return {"task_id": row.id, "saved": True}

    def count_tasks(self, actor: str | None = None, wanted: TaskFilter | None = None,
                    up_to: int | None = None) -> int:
        """How many open tasks a list would find (the header's count), no more than
        ``up_to`` if given; not audited, it shows no case."""
        with self.reading() as session:
            who = access.resolve(session, actor, self.channel, self.origin)
            return human_tasks.count_tasks(session, who, wanted or TaskFilter(), up_to)

    def case_diagram(self, case_id, actor: str | None = None) -> dict:
        """The case's own pathway version and where the case is in it: the elements it
        finished, the ones active now (open tasks, waiting events) and waiting timers."""
        def check(seen):
            if not seen.full:
                seen.deny("このケースの経過を見る権限がありません。")

        with self._reading(actor) as (session, call):
            row, seen = self._visible_case(session, call, case_id, "case.diagram", check)
            call.log("case.diagram", basis=seen.basis, case_id=row.id)
            return cases.diagram(session, row, seen)

    def complete_task(self, task_id: str, actor: str, data: dict | None = None,
                      case_version: int | None = None) -> dict:
        """Complete a task. ``case_version`` (from get_task) refuses a stale form."""
        check_data({} if data is None else data)  # before anything is looked up or run
        with self._writing(actor, required=True) as (session, call):
            row = self._task(session, call, task_id, "task.complete", with_case=True)
            seen = self._to_work(session, call, row, "task.complete")
            human_tasks.require_open(row)
            values = validate_form(row.form_key, data)
            if case_version is not None and get_case_row(session, row.case_id).version_id != case_version:
                raise Conflict("このケースは表示したあとで更新されました。最新の内容を"
                                           "読み込み直してから入力してください（入力内容は残ります）。")
            done = human_tasks.complete_task(session, row, call.actor, values)
            return self._as_seen(session, call, done, seen)

    def claim_task(self, task_id: str, actor: str) -> dict:
        return self._claim(task_id, actor, claim=True)

    def release_task(self, task_id: str, actor: str) -> dict:
        return self._claim(task_id, actor, claim=False)

    def _claim(self, task_id: str, actor: str, claim: bool) -> dict:
        action = "task.claim" if claim else "task.release"
        with self._writing(actor, required=True) as (session, call):
            row = self._task(session, call, task_id, action)
            self._to_work(session, call, row, action)
            if not claim and row.claimed_by not in (None, call.actor.name):
                raise Conflict(f"タスク「{row.name}」は {row.claimed_by} が担当しています。")
            human_tasks.claim(session, row, call.actor.name if claim else None)
            return {"task_id": row.id, "claimed_by": call.actor.name if claim else None}

    def run_timers(self, now: datetime | None = None) -> dict:
        """Fire what is due at ``now`` (default: the engine clock), each case audited as the
        sweep."""
        return sweep.run_due_timers(self.Session, self._sweeper(), now)

    # --- meetings ----------------------------------------------------------------------------

    def show_meeting(self, meeting_id, actor: str | None = None) -> dict:
        """A meeting record. A 支援会議's minutes open only to its attendees who acknowledged
        the duty of confidentiality; a 重層的支援会議 shows only consented members. Audited
        per case on its agenda (and per member shown), so a person's access log shows who
        read the meetings about them."""
        with self._reading(actor) as (session, call):
            meeting = self._meeting(session, call, meeting_id, "meeting.show")
            who = call.actor
            agenda = meetings.cases_of(session, meeting.id)
            attending = True if who.operator else access.attendance(session, who).get(meeting.id)
            holds_any = who.operator or access.holds_any(session, who, agenda)
            if attending is None and not holds_any:
                _log_agenda(call, "meeting.show", False, "none", meeting.id, agenda)
                raise NotFound(f"会議 '{meeting_id}' が見つかりません。")
            support = meeting.basis == meetings.SUPPORT_MEETING
            if support and attending is False:
                _log_agenda(call, "meeting.show", False, f"meeting:{meeting.id}", meeting.id, agenda)
                raise Forbidden("この支援会議の資料を開くには、守秘義務（社会福祉法第106条の6第5項）の"
                                "確認が必要です: kasane meeting ack で確認してください。")
            with_minutes = bool(attending) or not support
            result = meetings.meeting_dict(session, meeting, with_minutes=with_minutes)
            result["members"] = meeting_members(session, meeting, agenda, with_minutes)
            _log_agenda(call, "meeting.show", True, f"meeting:{meeting.id}" if attending else "receiving",
                        meeting.id, agenda, result["members"])
            return result

    def acknowledge_meeting(self, meeting_id, actor: str) -> dict:
        with self._writing(actor, required=True) as (session, call):
            meeting = self._meeting(session, call, meeting_id, "meeting.ack")
            agenda = meetings.cases_of(session, meeting.id)
            try:
                result = meetings.acknowledge(session, meeting.id, call.actor)
            except Forbidden:
                _log_agenda(call, "meeting.ack", False, "none", meeting.id, agenda)
                raise
            _log_agenda(call, "meeting.ack", True, f"meeting:{meeting.id}", meeting.id, agenda)
            return result

    # --- pathway versions and moving cases between them (管理者) ------------------------------

    def list_pathways(self, actor: str | None = None) -> list[dict]:
        """Every pathway with its versions (number, who, when) and the running cases on each."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "パスウェイの版の一覧")
            call.log("pathway.list", basis="manager")
            return versions.versions(session)

    def pathway_diff(self, pathway: str, old_version, new_version, actor: str | None = None) -> dict:
        """Which elements were added, removed or changed between two versions, and how."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "版の比較")
            call.log("pathway.diff", basis="manager", detail=f"{pathway} {old_version}→{new_version}")
            return versions.diff(session, pathway, old_version, new_version)

    def running_cases(self, pathway: str, version, actor: str | None = None, limit: int = 50,
                      after: str | None = None) -> list[dict]:
        """A page of the running cases on one version (number, stage, status, dates; no
        person), oldest first; pass the last ``cursor`` as ``after`` for the next page."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "版のケースの一覧")
            call.log("pathway.cases", basis="manager", detail=f"{pathway} {version}")
            return versions.running_cases(session, versions.deployment_of(session, pathway, version),
                                          limit, after)

    def case_migrations(self, case_id, actor: str | None = None) -> list[dict]:
        """The migrations of one case, oldest first: both versions, who, when, and whether
        each was reverted."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "ケースの版の移行")
            row = get_case_row(session, case_id)
            call.log("case.migrations", basis="manager", case_id=row.id)
            return case_migration.migrations_of(session, row.id)

    def coverage(self, pathway: str, actor: str | None = None, models="workflows") -> dict:
        """Which sequence flows and tasks of a pathway the recorded cases took (its deployed
        version; ``models``, a folder of BPMN files, when it is not deployed)."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "カバレッジの表示")
            call.log("pathway.coverage", basis="manager", detail=str(pathway)[:200])
            deployment = deployments.latest_deployment(session, pathway)
            files = dict(deployment.files) if deployment is not None else None
            model = coverage.find_process(files or coverage.read_model_dir(models), pathway)
            return coverage.coverage_report(model, coverage.database_records(session))

    def preview_migration(self, case_id, version=None, actor: str | None = None) -> dict:
        """What moving a running case to another version (default: the latest) would change."""
        with self._reading(actor) as (session, call):
            self._require_manager(call, "ケースの版の移行")
            row = self._case(session, call, case_id, "case.migrate.preview")
            call.log("case.migrate.preview", basis="manager", case_id=row.id)
            loaded = load_case(session, row.id, fire=False)  # a preview changes nothing
            target = self._target(session, loaded.row.pathway, version)
            return case_migration.plan(session, loaded, target)

    def migrate_case(self, case_id, version=None, actor: str | None = None) -> dict:
        """Move a running case to another version (default: the latest); refused with the
        reasons when an active or finished element of the case was changed or removed."""
        with self._writing(actor) as (session, call):
            self._require_manager(call, "ケースの版の移行")
            row = self._case(session, call, case_id, "case.migrate")
            call.log("case.migrate", basis="manager", case_id=row.id)
            loaded = load_case(session, row.id)
            target = self._target(session, loaded.row.pathway, version)
            call.entries[-1]["detail"] = f"v{loaded.pathway.version}→v{target.version}"
            return case_migration.migrate(session, loaded, target, call.actor.name)

    def revert_migration(self, migration_id, actor: str | None = None) -> dict:
        with self._writing(actor) as (session, call):
            self._require_manager(call, "ケースの版の移行の取り消し")
            call.log("case.migrate.revert", basis="manager", detail=f"移行 {str(migration_id)[:50]}")
            result = case_migration.revert(session, migration_id, call.actor.name)
            call.entries[-1]["case_id"] = result["case_id"]
            return result

    @staticmethod
    def _target(session, pathway: str, version):
        if version is None:
            latest = deployments.latest_deployment(session, pathway)
            if latest is None:
                raise NotFound(f"パスウェイ '{pathway}' はデプロイされていません。")
            return latest
        return versions.deployment_of(session, pathway, version)

    # --- audit ---------------------------------------------------------------------------------

    def audit_log(self, actor: str | None = None, case_id=None, person: str | None = None) -> list[dict]:
        """Who accessed what, newest first (管理者 or the operator)."""
        with self._reading(actor) as (session, call):
            if not (call.actor.operator or users.MANAGER in call.actor.roles):
                call.log("audit.list", False, "none")
                raise Forbidden(f"閲覧記録は役割「{users.MANAGER}」の利用者だけが見られます。")
            number = self._case(session, call, case_id, "audit.list").id if case_id is not None else None
            call.log("audit.list", basis="manager", case_id=number, detail=person)
            return audit.query(session, number, person)

    # --- helpers ---------------------------------------------------------------------------------

    @contextmanager
    def _reading(self, actor: str | None, required: bool = False):
        with self._call(self._read_session, actor, required, write=False) as pair:
            yield pair

    @contextmanager
    def _read_session(self):
        """A read's session. Its transaction may end and a new one begin (after the case's
        due timers fired in a transaction of their own), so it is no ``begin()`` block."""
        with self.ReadSession() as session:
            yield session
            _end_read(session)

    @contextmanager
    def _writing(self, actor: str | None, required: bool = False):
        with self._call(self.transaction, actor, required, write=True) as pair:
            yield pair

    @contextmanager
    def _call(self, begin, actor, required, write):
        """One call: resolve the actor, run, and write its audit rows — with a write, in
        its transaction; with a read, or after a refusal, afterwards."""
        call = None
        try:
            with begin() as session:
                if actor is None and required:
                    raise NotFound("利用者を指定してください（--as）。")
                try:
                    call = Call(access.resolve(session, actor, self.channel, self.origin))
                except NotFound:
                    call = Call(access.Actor(str(actor)[:100], channel=self.channel, origin=self.origin))
                    call.log("user.resolve", False, "none", detail="登録されていない利用者")
                    raise
                yield session, call
                if write:
                    audit.write(session, call.entries)
                    call.entries = []
        except ModelFailure as exc:
            if exc.case_id is not None:
                with self.transaction() as session:
                    # A case the failed step was opening was rolled back with it.
                    if session.get(Case, exc.case_id) is not None:
                        incidents.record(session, exc.case_id, exc, backoff=False)
            self._write_audit(call, write, failed=exc)
            raise
        except KasaneError as exc:
            self._write_audit(call, write, failed=exc)
            raise
        self._write_audit(call, write)

    def _write_audit(self, call: Call | None, write: bool, failed: Exception | None = None) -> None:
        if call is None or not call.entries:
            return
        if failed is not None:
            for entry in call.entries:
                if entry["allowed"]:
                    entry["detail"] = ((entry["detail"] or "") + f" 失敗: {type(failed).__name__}")[:500]
        if write:
            with self.transaction() as session:
                audit.write(session, call.entries)
        else:
            self.read_audit.write(call.entries)

    @staticmethod
    def _found(call: Call, action: str, kind: str, key, lookup, **what):
        """``lookup()``; an unknown ``key`` is logged as a denied ``action`` and not found."""
        try:
            return lookup()
        except NotFound:
            call.log(action, False, "none", detail=f"{kind} {str(key)[:50]}（存在しない）", **what)
            raise

    def _case(self, session, call: Call, case_id, action: str) -> Case:
        return self._found(call, action, "ケース", case_id, lambda: get_case_row(session, case_id),
                           case_id=parse_id(case_id))

    def _task(self, session, call: Call, task_id, action: str, with_case: bool = False):
        return self._found(call, action, "タスク", task_id,
                           lambda: human_tasks.get_task(session, task_id, with_case))

    def _meeting(self, session, call: Call, meeting_id, action: str):
        return self._found(call, action, "会議", meeting_id,
                           lambda: meetings.get_meeting(session, meeting_id))

    def _visible_case(self, session, call: Call, case_id, action: str, check, fire: bool = True):
        """The case and the actor's access to it. ``check`` raises the denial (logged here)
        before anything else happens; for an actor who may see the case, its timers that
        are already due then fire (a read never shows a state they have moved past) and the
        access is asked again, of the case as it is now."""
        row = self._case(session, call, case_id, action)
        while True:
            seen = access.for_case(session, call.actor, row)
            try:
                check(seen)
            except KasaneError:
                call.log(action, False, seen.basis, case_id=row.id)
                raise
            if not (fire and timers_due(row)):
                return row, seen
            number, fire = row.id, False
            _end_read(session)  # a new transaction sees the fired timers
            self._fire_due_timers(number)
            row = get_case_row(session, number)

    def _as_seen(self, session, call: Call, written, before: access.CaseAccess | None = None) -> dict:
        """What a write returns: the case summary as the actor may see it now (``written``:
        the unit of work that saved it; ``before``: their access when the write began)."""
        row = written.row
        seen = (access.for_case(session, call.actor, row) if before is None
                else access.after_write(session, call.actor, row, before))
        return cases.summary_for(session, row, seen, open_tasks=written.open_tasks)

    def _to_work(self, session, call: Call, row, action: str):
        """The access of an actor who wants to work a task; refuse (and log) otherwise. A
        task that is no longer open is a conflict for those who know the case."""
        case = access.case_of_task(row)
        seen = access.for_case(session, call.actor, case, task=row)
        allowed = access.may_work(seen, row)
        if not allowed:  # the whole picture, to log on which basis and tell how to refuse
            seen = access.for_case(session, call.actor, case, to_work=True)
        call.log(action, allowed, seen.basis, case_id=row.case_id, detail=row.name)
        # Task ids are unguessable; saying which role a task needs tells nothing of the case.
        if not allowed and row.role and row.role not in call.actor.roles and not call.actor.operator:
            access.require_role(call.actor, row)
        if not allowed:
            if seen.knows:
                human_tasks.require_open(row)
            access.require_task(seen, call.actor, row)
        return seen

    def _require_manager(self, call: Call, what: str) -> None:
        if not (call.actor.operator or users.MANAGER in call.actor.roles):
            call.log("manage", False, "none", detail=what)
            raise Forbidden(f"{what}は役割「{users.MANAGER}」の利用者だけが行えます。")

    def _sweeper(self) -> access.Actor:
        """Who fires timers nobody asked for: the system's sweep, audited as the operator."""
        return access.Actor(None, channel=self.channel, origin=self.origin, operator=True)

    def _fire_due_timers(self, number: int) -> None:
        """Fire a case's due timers for a read. If they fail, the read shows the stored
        state and the case gets an incident (as in the sweep); if someone changed the case
        meanwhile, they loaded it first, which fired them already."""
        try:
            with self.transaction() as session:
                sweep.fire_case(session, number, self._sweeper())
        except ModelFailure as exc:
            with self.transaction() as session:
                incidents.record(session, number, exc, backoff=True)
        except Conflict:
            pass

    @staticmethod
    def _timers_due_anywhere(session) -> bool:
        now = clock.now()
        return bool(session.scalar(select(exists().where(
            Case.next_timer_at <= now, or_(Case.retry_at.is_(None), Case.retry_at <= now)))))


def _end_read(session) -> None:
    """End a read's transaction with COMMIT rather than ROLLBACK: it wrote nothing, and at a
    ROLLBACK psycopg forgets every statement it has prepared on the connection (so on
    PostgreSQL no statement was ever executed often enough to be prepared). Expiring first
    drops whatever the read changed in memory, so nothing is flushed, and makes the next
    look-up read the database again."""
    session.expire_all()
    session.commit()


def _knows(seen: access.CaseAccess) -> None:
    """A check for reads that any basis allows (what they show depends on it)."""
    if not seen.knows:
        seen.deny("")


def _log_agenda(call: Call, action: str, allowed: bool, basis: str, meeting_id: int,
                agenda: list[int], members: list[dict] = ()) -> None:
    """Meeting reads are reads of the cases on its agenda: one row per member shown, and
    one per case with no member shown."""
    shown = {m["case_id"] for m in members}
    for member in members:
        call.log(action, allowed, basis, case_id=member["case_id"], member_id=member["member_id"],
                 meeting_id=meeting_id)
    for case_id in agenda:
        if case_id not in shown:
            call.log(action, allowed, basis, case_id=case_id, meeting_id=meeting_id)
    if not agenda:
        call.log(action, allowed, basis, meeting_id=meeting_id)


def meeting_members(session, meeting, agenda: list[int], with_minutes: bool) -> list[dict]:
    """The members a meeting view shows: for a 支援会議, to those who may read its materials;
    for a 重層的支援会議, only members with an active consent."""
    shown = []
    for case_id in agenda:
        consented = {c["member_id"] for c in consents.consents_of(session, case_id)
                     if c["状態"] == "有効"}
        for member in households.members_of(session, case_id):
            support = meeting.basis == meetings.SUPPORT_MEETING
            if (support and with_minutes) or (not support and member.id in consented):
                shown.append({"case_id": case_id, "member_id": member.id, "氏名": member.name,
                              "続柄": member.relation})
    return shown
