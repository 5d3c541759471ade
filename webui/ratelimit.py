"""Sign-in rate limits (Flask-Limiter). Only failed attempts count.

Flask-Limiter keeps its storage and settings on the Limiter object, so every app gets
its own (two apps in one process, as in the tests, must not share counters or the
``RATELIMIT_ENABLED`` switch); the sign-in view is wrapped for that app only.
"""
from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address


def _failed(response) -> bool:
    return response.status_code == 422  # the sign-in page answers a failed attempt with 422


def _name_and_address() -> str:
    return f"{get_remote_address()}|{request.form.get('name', '').strip().casefold()}"


def init_app(app: Flask) -> Limiter:
    limiter = Limiter(key_func=get_remote_address)
    limiter.init_app(app)
    view = app.view_functions["auth.login"]
    # Per user name and address: a few tries for one account. Per address: many names.
    view = limiter.limit(app.config["LOGIN_RATE_LIMIT"], key_func=_name_and_address,
                         methods=["POST"], deduct_when=_failed, scope="login-name")(view)
    view = limiter.limit(app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"], methods=["POST"],
                         deduct_when=_failed, scope="login-address")(view)
    app.view_functions["auth.login"] = view
    return limiter
