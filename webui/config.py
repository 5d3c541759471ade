"""Defaults of the web app. Every key can be set from the environment as ``KASANE_<KEY>``
(``Flask.config.from_prefixed_env``: values are read as JSON when they parse, so
``KASANE_PROXY_COUNT=1`` is the number 1 and ``KASANE_SESSION_COOKIE_SECURE=true`` is True).

Tests pass a ``test_config`` dict to ``create_app`` instead (it is applied last).
"""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


class Config:
    # The engine's database; None means KASANE_DATABASE_URL or instance/kasane.db, as in the CLI.
    DATABASE_URL: str | None = None

    # Unset: generated once and kept in the instance folder (see secret_key_from_instance).
    SECRET_KEY: str | None = None

    # Session cookie: HttpOnly, SameSite=Lax. SESSION_COOKIE_SECURE None means "auto": the
    # cookie is Secure when the request came over HTTPS (directly, or through a trusted
    # proxy's X-Forwarded-Proto, see PROXY_COUNT) or when PREFERRED_URL_SCHEME is https.
    # True or False forces it.
    SESSION_COOKIE_NAME = "kasane_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE: bool | None = None
    PERMANENT_SESSION_LIFETIME = timedelta(hours=8)  # a working day; seconds from the env

    # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host/-Port
    # headers are trusted (werkzeug ProxyFix). 0: none; never set it without a proxy.
    PROXY_COUNT = 0

    # CSRF tokens live as long as the session: a caseworker may spend an hour on one form.
    WTF_CSRF_TIME_LIMIT: int | None = None

    # Sign-in limits count failed attempts only. Per user name and address, then per address.
    # In-memory storage is per process; with several gunicorn workers use e.g. redis://.
    RATELIMIT_STORAGE_URI = "memory://"
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = "5 per 15 minutes"
    LOGIN_RATE_LIMIT_PER_ADDRESS = "30 per 15 minutes"

    # The header counts the user's open tasks on every full page, up to this many ("999+").
    INBOX_COUNT_LIMIT = 999

    # The pathway a new consultation (/cases/new) opens; its first user task is the form.
    INTAKE_PATHWAY = "jusou"

    # /_forms/<key>: renders and checks any task form without a case. On under TESTING.
    FORM_PREVIEW = False
    # Empty rows shown below the filled ones of each repeating table (no JavaScript needed).
    FORM_BLANK_ROWS = 1

    # Where `npm ci` put the front-end packages (served by webui/assets.py).
    NODE_MODULES = str(Path(__file__).resolve().parent.parent / "node_modules")

    CONTENT_SECURITY_POLICY = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
        "form-action 'self'; frame-ancestors 'none'"
    )

    MAX_CONTENT_LENGTH = 2 * 1024 * 1024  # task forms are text; nothing larger is uploaded


def secret_key_from_instance(instance_path: str) -> str:
    """The key kept in ``<instance>/secret_key``, created (mode 0600) on first use.

    Several gunicorn workers may start at once: the key is written to a temporary file and
    linked into place, so every worker reads the same complete key.
    """
    folder = Path(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "secret_key"
    if not path.exists():
        temporary = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another worker was first; use its key
        finally:
            temporary.unlink()
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty; delete it or set KASANE_SECRET_KEY")
    return key
