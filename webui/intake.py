"""New consultation (``/cases/new``): the form of the first task of the intake pathway
(config ``INTAKE_PATHWAY``, 相談受付 on ``jusou``), which opens a case and completes that
task in one step. A refused form is shown again with its messages, and no case is left
behind: the engine does both in one transaction.
"""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, request, url_for

from engine.errors import InvalidInput
from webui import formdata, taskform
from webui.auth import login_required
from webui.current import actor, engine

bp = Blueprint("intake", __name__)

PAGE = "intake/new.html"


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new():
    pathway = current_app.config["INTAKE_PATHWAY"]
    first = engine().first_task(pathway)
    key = first["form"]
    context = {"first": first, "action": url_for("intake.new"), "submit_label": "受け付ける"}
    if request.method == "GET":
        return taskform.render(PAGE, key, {}, **context)
    posted = taskform.Posted.from_request(key)
    if posted.row_action:
        return taskform.row_response(posted, PAGE, **context)
    try:
        case = engine().open_case_and_complete_first_task(pathway, actor(), posted.data)
    except InvalidInput as exc:
        return taskform.render(PAGE, key, posted.data, errors=formdata.errors_for(key, exc.fields),
                               form_error=exc.message, blank_rows=posted.blank_rows, status=422,
                               **context)
    flash(f"ケース {case['case_id']} を開き、『{first['name']}』を完了しました。", "success")
    return redirect(url_for("cases.show", case_id=case["case_id"]), 303)
