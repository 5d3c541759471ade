"""Sign-in and sign-out (Flask-Login over the engine's argon2 ``verify_password``).

The session holds ``<name>|<fingerprint of the password hash>``: a changed password (or a
removed user) ends every session of that user at its next request.
"""
from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import UserMixin, current_user, login_required, login_user, logout_user

from engine import users
from webui.extensions import htmx, login_manager

bp = Blueprint("auth", __name__)

__all__ = ["bp", "login_required", "SignedInUser", "local_path"]

REQUIRED = "必須項目です。"
WRONG = "利用者名またはパスワードが正しくありません。"


class SignedInUser(UserMixin):
    def __init__(self, name: str, roles: list[str], agency: str | None, fingerprint: str):
        self.name = name
        self.roles = roles
        self.agency = agency
        self.fingerprint = fingerprint

    def get_id(self) -> str:
        return f"{self.name}|{self.fingerprint}"


def fingerprint(password_hash: str) -> str:
    """What the session keeps of the password hash: 16 hex digits of its SHA-256."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


def _find_user(name: str) -> SignedInUser | None:
    """The user who may sign in (one with a password), or None."""
    kasane = current_app.extensions["kasane"]
    with kasane.transaction() as db:
        row = users.find_user(db, name)
    if row is None or not row.password_hash:
        return None
    return SignedInUser(row.name, list(row.roles), row.agency, fingerprint(row.password_hash))


@login_manager.user_loader
def _load_user(user_id: str) -> SignedInUser | None:
    name, _, fingerprint = user_id.rpartition("|")
    user = _find_user(name) if name else None
    if user is None or user.fingerprint != fingerprint:
        return None
    g.user_name = user.name
    return user


@login_manager.unauthorized_handler
def _unauthorized():
    target = url_for("auth.login", next=_current_path())
    if htmx:  # a fragment request: send the whole window to the sign-in page
        return Response(status=401, headers={"HX-Redirect": target})
    flash("この画面を使うにはログインしてください。", "info")
    return redirect(target)


def _current_path() -> str:
    query = request.query_string.decode("utf-8", "replace")
    return request.path + (f"?{query}" if query else "")


def local_path(target: str | None) -> str | None:
    """``target`` if it is a path on this site (``/...``), else None: never another host."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    next_path = local_path(request.values.get("next"))
    if current_user.is_authenticated:
        return redirect(next_path or url_for("inbox.index"))
    if request.method == "GET":
        return render_template("auth/login.html", name="", next=next_path, errors={})

    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [REQUIRED]
    if not password:
        errors["password"] = [REQUIRED]
    user = None
    if not errors:
        kasane = current_app.extensions["kasane"]
        if kasane.verify_password(name, password) is not None:
            user = _find_user(name)
        if user is None:
            errors["_form"] = [WRONG]
    if user is None:
        # No name in the log: people sometimes type their password into the name field.
        current_app.logger.info("sign-in refused")
        return render_template("auth/login.html", name=name, next=next_path, errors=errors), 422

    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    login_user(user)
    session.permanent = True
    g.user_name = user.name
    flash("ログインしました。", "success")
    return redirect(next_path or url_for("inbox.index"), 303)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:  # loads the user, so the request log names them
        current_app.logger.info("signed out", extra={"fields": {"user": current_user.name}})
    logout_user()
    session.clear()
    flash("ログアウトしました。", "success")
    return redirect(url_for("auth.login"), 303)
