"""/_forms/<key>: any task or event form rendered from its metadata and checked by its
schema, without a case. Registered only under TESTING or with FORM_PREVIEW (KASANE_FORM_PREVIEW=true);
tests render and submit every form key through it, designers look at the forms.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from marshmallow import ValidationError

import forms
from webui import formdata, taskform
from webui.auth import login_required

bp = Blueprint("formpreview", __name__, url_prefix="/_forms")

PAGE = "formpreview/form.html"


@bp.before_request
@login_required
def _signed_in():
    """Every preview page needs a signed-in user, like the task pages will."""


@bp.get("/")
def index():
    return render_template("formpreview/index.html", keys=list(forms.FORMS),
                           events=set(forms.EVENT_FORM_KEYS))


@bp.route("/<key>", methods=["GET", "POST"])
def form(key: str):
    schema = forms.get_form(key)
    if schema is None:
        abort(404)
    action = url_for("formpreview.form", key=key)
    if request.method == "GET":
        values = forms.example_values(key) if request.args.get("example") else {}
        return taskform.render(PAGE, key, values, action=action)
    posted = taskform.Posted.from_request(key)
    if posted.row_action:
        return taskform.row_response(posted, PAGE, action=action)
    try:
        loaded = schema().load(posted.data)
    except ValidationError as exc:
        return taskform.render(PAGE, key, posted.data, action=action,
                               errors=formdata.errors_for(key, exc.messages),
                               blank_rows=posted.blank_rows, status=422)
    return render_template("formpreview/result.html", key=key, title=schema.title,
                           data=forms.dump_json_ready(key, loaded))
