"""Logging: JSON lines on stderr, one line per request.

``configure_logging()`` runs when ``webui`` is imported, before any app exists (Flask's
advice: configure logging before the app's logger is first used). The request line holds
method, path (no query string), status, duration in ms, the signed-in user's name and the
remote address, never form data or query values: those may be welfare data.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from datetime import datetime, timezone
from logging.config import dictConfig

from flask import Flask, g, request

request_log = logging.getLogger("webui.requests")

_configured = False


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the record's ``fields``."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self, level=logging.NOTSET):
        logging.Handler.__init__(self, level)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "handlers": {"stderr": {"()": StderrHandler, "formatter": "json"}},
    # Flask's app.logger is "webui" (the import name), so errors land here too.
    "loggers": {"webui": {"handlers": ["stderr"], "level": "INFO", "propagate": False}},
}


def configure_logging() -> None:
    """dictConfig once per process; a later call changes nothing."""
    global _configured
    if not _configured:
        dictConfig(LOGGING)
        _configured = True


def init_app(app: Flask) -> None:
    """Time every request and log it when the response is ready (errors included)."""

    @app.before_request
    def _start_timer():
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_request(response):
        started = g.get("request_started")
        duration = (time.perf_counter() - started) * 1000 if started is not None else None
        request_log.info("request", extra={"fields": {
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "duration_ms": round(duration, 1) if duration is not None else None,
            "user": g.get("user_name"),
            "remote_addr": request.remote_addr,
        }})
        return response
