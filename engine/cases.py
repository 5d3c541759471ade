"""Cases: open one on a pathway, and summarise it for whoever may read it."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import agencies, deployments, history, task_index
from engine.errors import NotFound
from engine.store import Case, Incident
from engine.unit_of_work import get_case_row, new_case, run_engine_steps, save_case


def open_case(session: Session, pathway_id: str, user, data: dict) -> Case:
    """Open a case; the user's agency is the one that received it."""
    deployment = deployments.latest_deployment(session, pathway_id)
    if deployment is None:
        raise NotFound(f"パスウェイ '{pathway_id}' はデプロイされていません。")
    opened_by = user.name
    loaded = new_case(session, deployment, opened_by, data)
    agencies.hold(session, loaded.row.id, user.agency_id, "receiving")
    history.append(session, loaded.row.id, "opened", actor=opened_by, name=loaded.pathway.name,
                   pathway=pathway_id, version=loaded.pathway.version, data=data)
    run_engine_steps(session, loaded)
    save_case(session, loaded)
    return loaded.row


def summary(session: Session, row: Case, with_history: bool = False) -> dict:
    result = {
        "case_id": row.id,
        "pathway": row.pathway,
        "version": row.deployment.version,
        "status": row.status,
        "stage": row.stage,
        "tasks": task_index.open_tasks_of(session, row.id),
        "timers": list(row.timers),
        "data": dict(row.data),
    }
    if with_history:
        result["history"] = history.entries(session, row.id)
        result["incidents"] = open_incidents(session, row.id)
    return result


def open_incidents(session: Session, case_id: int) -> list[dict]:
    rows = session.scalars(select(Incident).where(Incident.case_id == case_id,
                                                  Incident.resolved_at.is_(None))
                           .order_by(Incident.id))
    return [{"at": history.local_iso(i.at), "message": i.message, "element": i.element,
             "retry_count": i.retry_count} for i in rows]


def show_case(session: Session, case_id) -> dict:
    return summary(session, get_case_row(session, case_id), with_history=True)
