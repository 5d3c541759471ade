"""The engine as the current request calls it, and who is asking.

Every view calls the engine API through ``engine()`` with ``actor()``: the policy and the
audit of the engine apply to every page, and the audit records the web channel and the
client's address. Views have no access rule of their own.
"""
from __future__ import annotations

from flask import current_app, request
from flask_login import current_user

from engine.api import Kasane


def engine() -> Kasane:
    return current_app.extensions["kasane"].via("web", request.remote_addr)


def actor() -> str:
    """The signed-in user's name (views that call the engine require sign-in)."""
    return current_user.name
