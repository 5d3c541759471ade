"""The web UI (Flask + htmx). For now: the application factory and a health page."""
from __future__ import annotations

from flask import Flask

from engine.api import Kasane


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DATABASE_URL=None)
    app.config.from_prefixed_env("KASANE")
    if test_config:
        app.config.update(test_config)
    app.extensions["kasane"] = Kasane(app.config["DATABASE_URL"])

    from webui import health
    app.register_blueprint(health.bp)
    return app
