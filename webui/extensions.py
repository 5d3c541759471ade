"""Extensions created once and bound to each app with ``init_app`` (microblog's pattern).

Flask-Limiter is the exception: it keeps its storage and settings on the object, so each
app gets its own limiter (webui/ratelimit.py).
"""
from __future__ import annotations

from flask_htmx import HTMX
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
htmx = HTMX()
login_manager = LoginManager()


def wants_fragment() -> bool:
    """The flask-htmx fragment rule (style.md §7): an htmx request that is neither a boosted
    navigation nor a history restore gets a fragment; everything else a whole page."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request
