"""The inbox (``/``): the open tasks of my roles, those I claimed, the overdue ones; filters,
two orders and pages of 50 through the engine's cursor; claiming and releasing a task.

One markup for page and fragment (contact-app): a view, a filter or the next page swaps
the inbox region, a claim swaps its row and sends the header's count out of band. Without
JavaScript the filters are a GET form and the claim buttons POST forms answered by a 303.
"""
from __future__ import annotations

import datetime as dt
import logging

from flask import (Blueprint, current_app, flash, get_template_attribute, make_response,
                   redirect, render_template, request, url_for)
from markupsafe import Markup
from sqlalchemy.exc import SQLAlchemyError

from engine.api import TaskFilter
from engine.clock import LOCAL_TZ
from engine.errors import Conflict, InvalidInput, KasaneError
from webui.auth import local_path, login_required
from webui.current import actor, engine
from webui.extensions import wants_fragment

bp = Blueprint("inbox", __name__)
log = logging.getLogger(__name__)

PAGE = 50
ORDERS = {"due": "期限が近い順", "newest": "新しい順"}
# The list's own parameters; a next-page link keeps them.
PARAMETERS = ("view", "stage", "due_before", "overdue", "order")


@bp.before_request
@login_required
def _signed_in():
    """Every inbox page and action needs a signed-in user."""


def header_count() -> str | None:
    """How many open tasks the signed-in user's roles have (the header's count), shown as
    "999+" past ``INBOX_COUNT_LIMIT``: every full page counts, and a count reads every row
    it counts. None if it cannot be counted: the count must not break a page, an error
    page least of all."""
    limit = int(current_app.config["INBOX_COUNT_LIMIT"])
    try:
        counted = engine().count_tasks(actor=actor(), up_to=limit + 1)
        return f"{limit}+" if counted > limit else str(counted)
    except (KasaneError, SQLAlchemyError):
        log.warning("the inbox count failed", exc_info=True)
        return None


def flash_oob() -> Markup:
    return get_template_attribute("partials/_oob.html", "flash_oob")()


def count_oob() -> Markup:
    """The header's count as an out-of-band swap: add it to an htmx fragment that changed
    the open tasks (a claim here, a completed task elsewhere), as
    ``Markup(render_template(...)) + count_oob()``."""
    return get_template_attribute("partials/_oob.html", "inbox_count_oob")(header_count())


@bp.get("/")
def index():
    asked = {name: request.args.get(name, "").strip() for name in PARAMETERS}
    errors: dict[str, str] = {}
    wanted = _task_filter(asked, request.args.get("after"), errors)
    tasks, message = [], None
    if not errors:
        try:
            tasks = engine().list_tasks(actor=actor(), wanted=wanted)
        except InvalidInput as exc:  # a bad order or cursor typed into the address
            errors, message = dict(exc.fields), exc.message
    context = {"tasks": tasks, "asked": asked, "errors": errors, "message": message,
               "first_page": not request.args.get("after"), "back": request.full_path.rstrip("?"),
               "first_url": _page_url(asked),
               "next_url": _page_url(asked, tasks[-1]["cursor"]) if len(tasks) == PAGE else None,
               "stages": _stages(asked["stage"]), "orders": ORDERS, "page_size": PAGE}
    if wants_fragment():  # the region, and the flash area emptied of older messages
        html = Markup(render_template("inbox/_inbox.html", **context)) + flash_oob()
    else:
        html = render_template("inbox/index.html", **context)
    response = make_response(html, 422 if errors else 200)
    response.vary.add("HX-Request")
    return response


def _task_filter(asked: dict, after: str | None, errors: dict) -> TaskFilter:
    due_before = None
    if asked["due_before"]:
        try:
            day = dt.date.fromisoformat(asked["due_before"])
            # 「この日まで」 includes the day: the due instant is before the next midnight.
            due_before = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), LOCAL_TZ)
        except (ValueError, OverflowError):
            errors["due_before"] = "日付は 2025-09-12 の形で入力してください。"
    return TaskFilter(mine=asked["view"] == "mine", overdue=bool(asked["overdue"]),
                      stage=asked["stage"] or None, due_before=due_before,
                      order=asked["order"] or "due", limit=PAGE, after=after or None)


def _page_url(asked: dict, cursor: str | None = None) -> str:
    return url_for("inbox.index", **{k: v for k, v in asked.items() if v}, after=cursor)


def _stages(chosen: str) -> list[str]:
    stages = engine().task_stages()
    return stages if not chosen or chosen in stages else [*stages, chosen]


@bp.post("/tasks/<task_id>/claim")
def claim(task_id: str):
    return _claim(task_id, True)


@bp.post("/tasks/<task_id>/release")
def release(task_id: str):
    return _claim(task_id, False)


def _claim(task_id: str, claiming: bool):
    """Claim or release, then show the task's row again as it now is. Someone else's claim
    is a conflict: the row says so in the engine's words, it is no error page."""
    message = None
    try:
        (engine().claim_task if claiming else engine().release_task)(task_id, actor=actor())
    except Conflict as exc:
        message = exc.message
    found = engine().list_tasks(actor=actor(), wanted=TaskFilter(task_id=task_id, limit=1))
    task = found[0] if found else None
    if message is None:
        name = f"タスク「{task['name']}」" if task else "タスク"
        flash(name + ("を担当しました。" if claiming else "の担当を外しました。"), "success")
    elif not wants_fragment():
        flash(message, "error")
    if not wants_fragment():
        return redirect(local_path(request.form.get("next")) or url_for("inbox.index"), 303)
    html = render_template("inbox/_claimed.html", task=task, task_id=task_id, row_message=message,
                           back=local_path(request.form.get("next")))
    response = make_response(Markup(html) + flash_oob() + count_oob(), 409 if message else 200)
    response.vary.add("HX-Request")
    return response
