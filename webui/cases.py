"""The case page (/cases/<case_id>) and what opens from it: a kept record as it was
submitted, the form of a case event the pathway waits for, and the live diagram's state.

Everything comes from the engine as the signed-in user may see it; a denied case is the
engine's NotFound (404) or Forbidden (403) and shows nothing of the case. Ids go to the
engine as typed: it alone says what is an id (a full-width １ is no case).

The case search (/cases), a new consultation (/cases/new) and the task forms
(/tasks/<task_id>) belong to other blueprints.
"""
from __future__ import annotations


from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

import forms
from engine.errors import Conflict, InvalidInput
from webui import caseview, formdata, taskform
from webui.auth import login_required
from webui.current import actor, engine
from webui.filters import jdate

bp = Blueprint("cases", __name__, url_prefix="/cases")

EVENT_PAGE = "cases/event.html"


@bp.before_request
@login_required
def _signed_in():
    """Every case page needs a signed-in user: the engine sees the case as them."""


@bp.get("/<case_id>")
def show(case_id: str):
    view = engine().show_case(case_id, actor=actor())
    return render_template("cases/show.html", case=view, view=caseview)


@bp.get("/<case_id>/records/<record_id>")
def record(case_id: str, record_id: str):
    kept = engine().show_record(case_id, record_id, actor=actor())
    return render_template("cases/record.html", case_id=case_id, record=kept,
                           values=caseview.labelled(kept["form"], kept["values"]), view=caseview)


@bp.route("/<case_id>/events/<message>", methods=["GET", "POST"])
def event(case_id: str, message: str):
    view = engine().show_case(case_id, actor=actor())
    # A form is offered only for an event the case waits for. What is posted goes to the
    # engine whatever the case does now: if it moved on meanwhile, its refusal is shown
    # on the form with the input kept.
    if request.method == "GET" and message not in view["events"]:
        flash(f"このケースには今「{message}」を記録できません。", "error")
        return redirect(url_for("cases.show", case_id=view["case_id"]), 303)
    action = url_for("cases.event", case_id=view["case_id"], message=message)
    context = {"case": view, "message": message, "view": caseview}
    if forms.get_form(message) is None:  # an event the model declares without a form
        return _event_without_form(view, message, context)
    if request.method == "GET":
        return taskform.render(EVENT_PAGE, message, {}, action=action, **context)
    posted = taskform.Posted.from_request(message)
    if posted.row_action:
        return taskform.row_response(posted, EVENT_PAGE, action=action, **context)
    try:
        changed = engine().send_event(view["case_id"], message, actor=actor(), data=posted.data)
    except (InvalidInput, Conflict) as exc:
        errors = formdata.errors_for(message, exc.fields) if isinstance(exc, InvalidInput) else {}
        return taskform.render(EVENT_PAGE, message, posted.data, action=action, errors=errors,
                               form_error=exc.message, blank_rows=posted.blank_rows,
                               status=_status(exc), **context)
    return _recorded(changed, message)


def _event_without_form(view: dict, message: str, context: dict):
    if request.method == "GET":
        return render_template(EVENT_PAGE, form=None, **context)
    try:
        changed = engine().send_event(view["case_id"], message, actor=actor(), data={})
    except (InvalidInput, Conflict) as exc:
        return render_template(EVENT_PAGE, form=None, form_error=exc.message, **context), _status(exc)
    return _recorded(changed, message)


def _status(refusal: Exception) -> int:
    return 422 if isinstance(refusal, InvalidInput) else 409


def _recorded(changed: dict, message: str):
    flash(f"「{message}」を記録しました。", "success")
    if changed["access"] == "none":  # the event closed the task that let this user in
        return redirect(url_for("inbox.index"), 303)
    return redirect(url_for("cases.show", case_id=changed["case_id"]), 303)


@bp.get("/<case_id>/diagram")
def diagram(case_id: str):
    """The live diagram's state for static/case-diagram.js: the case's BPMN files (its own
    pathway version, then the called processes the case entered) and, by element id, what
    to mark and where a click goes."""
    shown = engine().case_diagram(case_id, actor=actor())
    return jsonify(diagram_state(shown))


def diagram_state(shown: dict) -> dict:
    processes = shown["processes"]
    main = processes[shown["pathway"]]["file"]
    entered = [main] + [processes[p]["file"] for p in shown["completed"] if p in processes]
    files = list(dict.fromkeys(name for name in entered if name in shown["files"]))
    names = {}
    for info in processes.values():
        names.setdefault(info["file"], info["name"])
    task_elements = {t["element"] for t in shown["tasks"]}
    return {
        "diagrams": [{"file": name, "name": names.get(name, name), "xml": shown["files"][name]}
                     for name in files],
        "done": sorted({e for ids in shown["completed"].values() for e in ids}),
        "current": [{"element": t["element"], "name": t["name"], "url": url_for("tasks.show", task_id=t["task_id"]),
                     "due": jdate(t["due"]) if t["due"] else None} for t in shown["tasks"]],
        "waiting": [e for e in shown["active"] if e not in task_elements],
        "timers": [{"element": t["element"], "label": caseview.timer_text(t)}
                   for t in shown["timers"]],
        "records": {element: url_for("cases.record", case_id=shown["case_id"], record_id=number)
                    for element, number in shown["records"].items()},
    }
