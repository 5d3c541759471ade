"""Task forms in views: render any form from its metadata, and handle what is posted.

A view that shows a form (the preview in formpreview.py, later the task pages):

    posted = taskform.Posted.from_request(key)
    if posted.row_action:                         # 行を追加 / この行を削除
        return taskform.row_response(posted, "tasks/task.html", action=url, **context)
    try:
        ...engine call with posted.data...
    except InvalidInput as exc:                   # or marshmallow's ValidationError
        return taskform.render("tasks/task.html", key, posted.data, action=url,
                               errors=formdata.errors_for(key, exc.fields),
                               form_error=exc.message, blank_rows=posted.blank_rows,
                               status=422, **context)

``page_template`` is a full page that includes ``forms/_form.html``; an htmx request that
is not a boosted navigation gets that partial alone (contact-app style, one markup).
Rows: each row has its own 「この行を削除」 button and each table a 「行を追加」 button.
Both are plain submit buttons (``_action=add:世帯員`` / ``_action=remove:世帯員.2``) that
re-render the whole page without JavaScript; with htmx they post the same form and swap
in only that table (``forms/_rows.html``), renumbered, with what was typed kept.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, make_response, render_template, request
from werkzeug.datastructures import MultiDict

import forms
from webui import formdata, formview
from webui.extensions import wants_fragment

FORM_PARTIAL = "forms/_form.html"
ROWS_PARTIAL = "forms/_rows.html"


@dataclass
class Posted:
    key: str
    form: MultiDict
    data: dict
    blank_rows: dict[str, int] = field(default_factory=dict)
    row_action: tuple[str, str, int | None] | None = None  # ("add"|"remove", rows field, index)

    @classmethod
    def from_request(cls, key: str, form: MultiDict | None = None) -> Posted:
        form = request.form if form is None else form
        action = _row_action(key, form.get("_action", ""))
        if action and action[0] == "remove" and action[2] is not None:
            form = formdata.without_row(form, action[1], action[2])
        return cls(key=key, form=form, data=formdata.from_form(key, form),
                   blank_rows=formdata.blank_rows(key, form), row_action=action)


def _row_action(key: str, value: str) -> tuple[str, str, int | None] | None:
    verb, _, target = value.partition(":")
    if verb not in ("add", "remove"):
        return None
    name, _, index = target.partition(".")
    rows_fields = {s["name"] for s in forms.field_specs(key) if s["widget"] == "rows"}
    if name not in rows_fields:
        return None
    return verb, name, int(index) if index.isdigit() else None


def render(page_template: str, key: str, values: dict | None = None, *, action: str,
           errors: dict[str, list[str]] | None = None, form_error: str | None = None,
           blank_rows: dict[str, int] | None = None, focus: tuple[str, str] | None = None,
           status: int = 200, fragment_template: str = FORM_PARTIAL, **context):
    """The page (or, for htmx, the form partial) with the form filled from ``values``."""
    model = _model(key, values, errors, form_error, blank_rows, focus)
    template = fragment_template if wants_fragment() else page_template
    response = make_response(render_template(template, form=model, action=action, **context),
                             status)
    response.vary.add("HX-Request")
    return response


def _model(key, values, errors, form_error, blank_rows, focus) -> formview.Form:
    errors = dict(errors or {})
    if form_error:
        errors[formdata.FORM_ERRORS] = [form_error, *errors.get(formdata.FORM_ERRORS, [])]
    # The register's agencies are the choices of an agencies field; most forms have none.
    agencies = [a["agency"] for a in current_app.extensions["kasane"].list_agencies()] \
        if any(s["widget"] == "agencies" for s in forms.field_specs(key)) else []
    return formview.build(key, values, errors, blank_rows,
                          default_blank_rows=current_app.config["FORM_BLANK_ROWS"], focus=focus,
                          agencies=agencies)


def row_response(posted: Posted, page_template: str, *, action: str, **context):
    """Answer 行を追加 / この行を削除: the rows table again with one row more or less
    (htmx swaps it in place), or without JavaScript the whole page. Nothing is checked
    yet, and what was typed elsewhere stays as it was."""
    verb, name, _ = posted.row_action
    blank = dict(posted.blank_rows)
    if verb == "add":
        blank[name] = blank.get(name, 0) + 1
    if not wants_fragment():
        return render(page_template, posted.key, posted.data, action=action, blank_rows=blank,
                      focus=(verb, name), **context)
    model = _model(posted.key, posted.data, None, None, blank, (verb, name))
    rows_field = next(f for f in model.fields if f.name == name)
    response = make_response(render_template(ROWS_PARTIAL, field=rows_field, action=action))
    response.vary.add("HX-Request")
    return response
