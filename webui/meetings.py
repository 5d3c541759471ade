"""Meeting records (/meetings/<meeting_id>). A 支援会議's materials open to an attendee
only after they acknowledged the duty of confidentiality (社会福祉法第106条の6第5項):
until then the engine refuses the meeting, and the page asks for the acknowledgement.
"""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for

from engine.errors import Forbidden
from webui import caseview
from webui.auth import login_required
from webui.current import actor, engine

bp = Blueprint("meetings", __name__, url_prefix="/meetings")


@bp.before_request
@login_required
def _signed_in():
    """Meeting records are case files: sign-in first."""


@bp.get("/<meeting_id>")
def show(meeting_id: str):
    try:
        meeting = engine().show_meeting(meeting_id, actor=actor())
    except Forbidden:
        # The one refusal of a meeting the user attends: the duty is not acknowledged yet.
        return render_template("meetings/acknowledge.html", meeting_id=meeting_id), 403
    return render_template("meetings/show.html", meeting=meeting, view=caseview)


@bp.post("/<meeting_id>/acknowledge")
def acknowledge(meeting_id: str):
    done = engine().acknowledge_meeting(meeting_id, actor=actor())
    flash("守秘義務の確認を記録しました。支援会議の資料を表示します。", "success")
    return redirect(url_for("meetings.show", meeting_id=done["meeting_id"]), 303)
