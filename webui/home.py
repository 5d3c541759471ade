"""The signed-in start page. A placeholder: the inbox replaces it."""
from __future__ import annotations

from flask import Blueprint, render_template

from webui.auth import login_required

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("home/index.html")
