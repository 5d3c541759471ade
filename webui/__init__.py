"""The web UI (Flask + htmx): the application factory.

Run it with ``gunicorn 'webui:create_app()'``. Configuration: ``webui.config.Config``,
then ``instance/config.py`` if present, then ``KASANE_*`` environment variables, then (in
tests) ``test_config``.
"""
from __future__ import annotations

import secrets

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from markupsafe import escape
from werkzeug.middleware.proxy_fix import ProxyFix

from engine import users
from engine.api import Kasane
from webui import logconfig
from webui.config import Config, secret_key_from_instance

logconfig.configure_logging()  # before any app exists (style.md §8)


class KasaneFlask(Flask):
    def redirect(self, location: str, code: int = 302) -> Response:
        """Redirects whose body, for the rare browser that shows it, is Japanese too."""
        href = escape(location)
        body = ('<!doctype html><html lang="ja"><meta charset="utf-8">'
                '<title>移動します | kasane 重ね</title>'
                f'<p><a href="{href}">次のページ</a>へ移動します。</p></html>')
        return Response(body, code, {"Location": location}, mimetype="text/html")


class SessionInterface(SecureCookieSessionInterface):
    """SESSION_COOKIE_SECURE None ("auto"): Secure when the request came over HTTPS, as
    seen through a trusted proxy (PROXY_COUNT), or when PREFERRED_URL_SCHEME is https.
    Files (static, vendor) never send the cookie back."""

    def should_set_cookie(self, app: Flask, session) -> bool:
        # A permanent session is re-sent with every response. A file that a page loads
        # while a sign-out or a flash message changes the session would put the older
        # cookie back: the user signed in again, the message lost.
        if request.endpoint in ("static", "assets.vendor"):
            return False
        return super().should_set_cookie(app, session)

    def get_cookie_secure(self, app: Flask) -> bool:
        configured = app.config["SESSION_COOKIE_SECURE"]
        if configured not in (None, "auto"):
            return bool(configured)
        return request.is_secure or app.config["PREFERRED_URL_SCHEME"] == "https"


def create_app(test_config: dict | None = None) -> Flask:
    app = KasaneFlask(__name__, instance_relative_config=True)
    app.config.from_object(Config)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("KASANE")
    if test_config:
        app.config.update(test_config)
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = (secrets.token_hex(32) if app.testing
                                    else secret_key_from_instance(app.instance_path))
    app.session_interface = SessionInterface()
    app.json.ensure_ascii = False  # Japanese stays readable in JSON and |tojson
    app.json.sort_keys = False     # form fields keep their order
    if app.config["PROXY_COUNT"]:
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count,
                                x_port=count)
    app.extensions["kasane"] = Kasane(app.config["DATABASE_URL"])

    _init_extensions(app)
    _register_blueprints(app)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("Content-Security-Policy", app.config["CONTENT_SECURITY_POLICY"])
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")  # welfare data
        return response

    return app


def _init_extensions(app: Flask) -> None:
    from webui import inbox, ratelimit
    from webui.extensions import csrf, htmx, login_manager, wants_fragment

    logconfig.init_app(app)  # first, so that its timer starts before any other hook
    csrf.init_app(app)
    htmx.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    app.jinja_env.globals["htmx_config"] = HTMX_CONFIG

    @app.context_processor
    def _layout():
        # Whole pages only: a fragment that changes the count sends it out of band. The
        # pathways link is for managers only, to spare the others a page the engine refuses.
        if wants_fragment() or not current_user.is_authenticated:
            return {"inbox_count": None, "manager_role": users.MANAGER}
        return {"inbox_count": inbox.header_count(), "manager_role": users.MANAGER}

    from webui import auth  # noqa: F401  (registers the user loader)
    app.register_blueprint(auth.bp)
    app.extensions["kasane_limiter"] = ratelimit.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from webui import assets, cases, errors, filters, health, inbox, intake, meetings, modeler, search, tasks
    assets.init_app(app)
    filters.init_app(app)
    app.register_blueprint(errors.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(search.bp)
    app.register_blueprint(intake.bp)  # /cases/new, before the case pages' /cases/<id>
    app.register_blueprint(cases.bp)
    app.register_blueprint(meetings.bp)
    app.register_blueprint(tasks.bp)
    app.register_blueprint(modeler.bp)
    if app.testing or app.config["FORM_PREVIEW"]:
        from webui import formpreview
        app.register_blueprint(formpreview.bp)


# htmx 2 swaps no 4xx/5xx by default. 422 (a form with errors) swaps like a success; other
# errors swap too, as the server retargets their fragment to #flash (errors.py). No page is
# kept in the browser's storage for history (welfare data): back/forward reloads it.
HTMX_CONFIG = {
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "422", "swap": True},
        {"code": "[45]..", "swap": True, "error": True},
        {"code": "...", "swap": False},
    ],
    "historyCacheSize": 0,
    "refreshOnHistoryMiss": True,
    "includeIndicatorStyles": False,
    "allowEval": False,
    "selfRequestsOnly": True,
}
