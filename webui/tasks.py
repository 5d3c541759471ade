"""Task form pages (``/tasks/<task_id>``): a task's form rendered from its metadata, with
its case and the data it reads; complete it, or keep it half-done as a draft.

The form carries the case version it was shown with. A form gone stale (the case changed
since, or someone else completed the task) comes back with the engine's conflict message,
what was typed and the case as it is now: a 409 page of its own, not an error page.
"""
from __future__ import annotations

from flask import Blueprint, abort, flash, make_response, redirect, render_template, request, url_for

import forms
from engine.errors import Conflict, InvalidInput
from webui import formdata, taskform
from webui.auth import login_required
from webui.current import actor, engine

bp = Blueprint("tasks", __name__, url_prefix="/tasks")

PAGE = "tasks/task.html"
SAVE_DRAFT = "save_draft"
# The case data starts unfolded up to this many items; a longer list starts folded.
OPEN_DATA_ITEMS = 10


@bp.app_template_global()
def task_url(task_id: str) -> str:
    """The form page of a task (the inbox, the case page and the diagram link to it)."""
    return url_for("tasks.show", task_id=task_id)


@bp.before_request
@login_required
def _signed_in():
    """Every task page needs a signed-in user."""


@bp.get("/<task_id>")
def show(task_id: str):
    task = engine().get_task(task_id, actor=actor())
    draft = task["draft"]
    return _render(task, draft["values"] if draft else {},
                   draft_saved_at=draft["saved_at"] if draft else None)


@bp.post("/<task_id>")
def submit(task_id: str):
    task = engine().get_task(task_id, actor=actor())
    key = task["form"]
    version = _shown_version()
    # A task whose model names no form we know is completed with no data.
    posted = taskform.Posted.from_request(key) if forms.get_form(key) else None
    if posted and posted.row_action:
        return taskform.row_response(posted, PAGE, action=_action(task),
                                     **_context(task, version))
    data = posted.data if posted else {}
    blank_rows = posted.blank_rows if posted else None
    saving = request.form.get("_action") == SAVE_DRAFT
    try:
        if saving:
            engine().save_draft(task_id, actor(), data)
        else:
            case = engine().complete_task(task_id, actor(), data, case_version=version)
    except InvalidInput as exc:
        return _render(task, data, version=version, blank_rows=blank_rows,
                       errors=formdata.errors_for(key, exc.fields) if posted else None,
                       form_error=exc.message, status=422)
    except Conflict as exc:
        # Shown again as the case is now: the user looks, then sends what they typed.
        now = engine().get_task(task_id, actor=actor())
        return _render(now, data, blank_rows=blank_rows, conflict=exc.message, status=409)
    if saving:
        flash("下書きを保存しました。このページを開き直すと、続きから入力できます。", "success")
        return redirect(url_for("tasks.show", task_id=task_id), 303)
    flash(f"『{task['name']}』を完了しました。", "success")
    if case["access"] == "none":  # the task was all this user saw of the case (assignTo)
        return redirect(url_for("inbox.index"), 303)
    return redirect(url_for("cases.show", case_id=case["case_id"]), 303)


def _shown_version() -> int:
    version = request.form.get("case_version", type=int)
    if version is None:
        abort(400)  # every task form carries it: this post was not sent from one
    return version


def _action(task: dict) -> str:
    return url_for("tasks.show", task_id=task["task_id"])


def _context(task: dict, version: int | None = None, **extra) -> dict:
    """What the page shows besides the form. ``version``: the case version the form
    carries (by default the one the case has now)."""
    data = task["data"]
    return {"task": task, "person": data.get("氏名"), "case_href": url_for("cases.show", case_id=task["case_id"]),
            "data_open": len(data) <= OPEN_DATA_ITEMS or bool(extra.get("conflict")),
            "may_submit": task["state"] == "open" and task["may_complete"],
            "hidden_fields": {"case_version": task["case_version"] if version is None else version},
            "submit_label": "完了する", "draft_label": "下書き保存", **extra}


def _render(task: dict, values: dict, *, version: int | None = None, errors=None,
            form_error: str | None = None, blank_rows=None, status: int = 200, **extra):
    context = _context(task, version, **extra)
    if forms.get_form(task["form"]) is None:
        context["form_error"] = form_error
        return make_response(render_template(PAGE, form=None, action=_action(task), **context),
                             status)
    return taskform.render(PAGE, task["form"], values, action=_action(task), errors=errors,
                           form_error=form_error, blank_rows=blank_rows, status=status,
                           **context)
