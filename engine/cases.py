"""Cases: open one on a pathway, and show it to whoever asks, as the access policy allows."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import agencies, consents, deployments, history, households, meetings, records, task_index
from engine.access import IDENTITY_SCOPE, CaseAccess, sees_minutes
from engine.errors import NotFound
from engine.store import Case, Incident, StepRecord
from engine.unit_of_work import LoadedCase, new_case, run_engine_steps, save_case


def open_case(session: Session, pathway_id: str, user, data: dict) -> LoadedCase:
    """Open a case; the user's agency is the one that received it."""
    deployment = deployments.latest_deployment(session, pathway_id)
    if deployment is None:
        raise NotFound(f"パスウェイ '{pathway_id}' はデプロイされていません。")
    loaded = new_case(session, deployment, user.name, data)
    agencies.receive(session, loaded.row, user.agency_id)
    history.append(session, loaded.row.id, "opened", actor=user.name, name=loaded.pathway.name,
                   pathway=pathway_id, version=loaded.pathway.version, data=data)
    run_engine_steps(session, loaded)
    save_case(session, loaded)
    return loaded


def first_user_task(pathway) -> dict | None:
    """The user task a new case of ``pathway`` (a loaded Pathway) opens with: the first one
    reached from the start event along its flows, breadth first, through events, rules,
    scripts and gateways; a subprocess on the way is searched before what follows it.
    Read from the model, so a screen can show its form before any case exists. None if
    the pathway has no user task."""
    return _first_user_task(pathway.spec, pathway.subprocess_specs, set())


def _first_user_task(process, subprocess_specs: dict, entered: set) -> dict | None:
    entered.add(process.name)  # a process that calls itself is searched once
    queue, seen = list(process.start.outputs), set()
    while queue:
        spec = queue.pop(0)
        if spec.name in seen:
            continue
        seen.add(spec.name)
        if spec.manual:
            return {"element": spec.bpmn_id or spec.name, "name": spec.bpmn_name or spec.name,
                    "form": task_index.form_key(spec), "role": spec.lane}
        inner = subprocess_specs.get(getattr(spec, "spec", None))
        found = (_first_user_task(inner, subprocess_specs, entered)
                 if inner is not None and inner.name not in entered else None)
        if found is not None:
            return found
        queue.extend(spec.outputs)
    return None


def summary(session: Session, row: Case, open_tasks: list | None = None) -> dict:
    """The whole case summary (the CLI contract's keys), as the operator sees it
    (``open_tasks``: as the step that just saved the case left them)."""
    return {
        "case_id": row.id,
        "pathway": row.pathway,
        "version": row.deployment.version,
        "status": row.status,
        "stage": row.stage,
        "tasks": open_tasks if open_tasks is not None else task_index.open_tasks_of(session, row.id),
        "timers": list(row.timers),
        "data": dict(row.data),
    }


def summary_for(session: Session, row: Case, access: CaseAccess,
                withheld: records.Withheld | None = None, open_tasks: list | None = None) -> dict:
    """The case summary as one actor may see it (what a write returns): whole for its
    holders, else the open tasks the actor may work and the case data they read; either
    way without what came from a 支援会議 the actor may not read."""
    withheld = withheld or records.Withheld(session, row.id, access.hidden_meetings)
    result = summary(session, row, open_tasks)
    if not access.full:
        reads = {name.strip() for t in access.tasks.values() for name in (t.reads or "").split(",")}
        result.update(tasks=[t for t in result["tasks"] if t["task_id"] in access.tasks],
                      timers=[], data={k: v for k, v in row.data.items() if k in reads})
    result["data"] = withheld.data(result["data"])
    result["access"] = access.basis  # "none": the actor sees nothing of the case any more
    return result


def view(session: Session, row: Case, access: CaseAccess) -> dict:
    """The case as one actor may see it: whole for its holders, else only what a consent,
    an open task or a meeting lets them see. Same keys either way."""
    withheld = records.Withheld(session, row.id, access.hidden_meetings)
    result = summary_for(session, row, access, withheld)
    if access.full:
        result["history"] = withheld.history(history.entries(session, row.id))
        result["incidents"] = open_incidents(session, row.id)
        allowed = None
    else:
        result["history"], result["incidents"] = [], []
        allowed = access.allowed_scopes()
    result["household"] = household(session, row.id, allowed)
    result["records"] = visible_records(session, row.id, access, allowed)
    result["meetings"] = [meetings.meeting_dict(session, m, with_minutes=sees_minutes(access, m.id))
                          for m in case_meetings(session, row.id, access)]
    # The events a user may record now: the pathway waits for them, and the user works on it.
    result["events"] = [e["name"] for e in row.events] if (access.full or access.tasks) else []
    return result


def diagram(session: Session, row: Case, access: CaseAccess) -> dict:
    """The case's pathway version (its BPMN files) and its state as element ids per process.
    ``processes`` says which file holds each process (the pathway's, the subprocesses', the
    called ones') and its name; ``records`` the latest record kept at each element that
    the viewer may open (支援会議 minutes only for its acknowledged attendees)."""
    deployment = row.deployment
    pathway = deployments.load_pathway(deployment)
    processes = {spec.name: {"file": spec.file, "name": spec.description or spec.name}
                 for spec in [pathway.spec, *pathway.subprocess_specs.values()]}
    kept = {record.element: record.id for record in records.records_of(session, row.id)
            if record.element and sees_minutes(access, record.meeting_id)}
    steps = session.connection().execute(
        select(StepRecord.process_id, StepRecord.spec_id).where(StepRecord.case_id == row.id)
        .distinct())
    completed: dict[str, list] = {}
    for process_id, spec_id in steps:
        completed.setdefault(process_id, []).append(spec_id)
    tasks = task_index.open_tasks_of(session, row.id)
    active = sorted({t["element"] for t in tasks} | {e["element"] for e in row.events})
    return {"case_id": row.id, "pathway": row.pathway, "version": deployment.version,
            "files": {name: text for name, text in dict(deployment.files).items()
                      if name.endswith(".bpmn")},
            "processes": processes,
            "completed": {k: sorted(v) for k, v in completed.items()}, "active": active,
            "timers": [{"element": t["element"], "name": t["name"], "due": t["due"]}
                       for t in row.timers],
            "tasks": tasks, "records": kept}


def household(session: Session, case_id: int, allowed: dict | None) -> list[dict]:
    """Members with their consent state; for a consent's viewer, only the members it
    covers and only the fields of its 情報範囲."""
    by_member: dict[int, list] = {}
    for consent in consents.consents_of(session, case_id):
        by_member.setdefault(consent["member_id"], []).append(consent)
    flag_scopes = households.flag_scopes()
    shown = []
    for member in households.members_of(session, case_id):
        entry = {**households.member_dict(member), "consents": by_member.get(member.id, [])}
        if allowed is not None:
            scopes = allowed.get(member.id)
            if scopes is None:
                continue
            if IDENTITY_SCOPE not in scopes:
                entry.update({"氏名": None, "ふりがな": None, "続柄": None, "生年月日": None})
            entry["flags"] = {k: v for k, v in entry["flags"].items()
                              if flag_scopes.get(k, "支援経過") in scopes}
        shown.append(entry)
    return shown


def visible_records(session: Session, case_id: int, access: CaseAccess, allowed: dict | None) -> list[dict]:
    shown = []
    for record in records.records_of(session, case_id):
        if not sees_minutes(access, record.meeting_id):
            if allowed is None:
                shown.append(records.record_dict(record, {}) | {"values": None, "note": records.WITHHELD_NOTE})
            continue
        values = records.visible_values(record, allowed)
        if allowed is not None and not values:
            continue
        shown.append(records.record_dict(record, values))
    return shown


def case_meetings(session: Session, case_id: int, access: CaseAccess) -> list:
    rows = session.connection().execute(
        select(meetings.MEETINGS).join(meetings.AGENDA, meetings.AGENDA.c.meeting_id == meetings.MEETINGS.c.id)
        .where(meetings.AGENDA.c.case_id == case_id).order_by(meetings.MEETINGS.c.held_on,
                                                             meetings.MEETINGS.c.id))
    return [m for m in rows if access.full or m.id in access.meetings]


def open_incidents(session: Session, case_id: int) -> list[dict]:
    rows = session.scalars(select(Incident).where(Incident.case_id == case_id,
                                                  Incident.resolved_at.is_(None))
                           .order_by(Incident.id))
    return [{"at": history.local_iso(i.at), "message": i.message, "element": i.element,
             "retry_count": i.retry_count} for i in rows]
