"""Fixtures of the web UI tests: an app per test on the test database, a signed-in
client, and for the browser tests one live server and one Chromium per xdist worker."""
from __future__ import annotations

import re
import secrets
import shutil
import threading
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import make_response, render_template_string
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler, make_server

from engine import migrate
from engine.api import Kasane
from engine.store import User
from tests.webui.htmlform import csrf_token
from webui import create_app
from webui.auth import fingerprint

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# The flags the machine notes give for headless Chromium on a closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PASSWORD = "kasane-pass-1"


# Agencies the web tests' users work at, by kind.
AGENCIES = {"デモ市": "市福祉課", "福祉まるごと相談室": "福祉まるごと相談室"}


def prepare(kasane) -> None:
    """The pathways deployed (their lanes are the roles users may hold) and the agencies."""
    kasane.deploy([ROOT / "workflows"])
    known = {a["agency"] for a in kasane.list_agencies()}
    for name, kind in AGENCIES.items():
        if name not in known:
            kasane.add_agency(name, kind)


@pytest.fixture
def app(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    prepare(app.extensions["kasane"])
    yield app
    app.extensions["kasane"].close()


@pytest.fixture
def client(app):
    return app.test_client()


def add_user_fast(kasane, name, roles, agency, password_hash) -> None:
    """A user with a ready argon2 hash of PASSWORD: argon2 is slow on purpose."""
    kasane.add_user(name, list(roles), agency)
    with kasane.transaction() as db:
        db.execute(update(User).where(User.name == name).values(password_hash=password_hash))


class Auth:
    def __init__(self, app, client, password_hash):
        self.app = app
        self.client = client
        self.password_hash = password_hash

    def add_user(self, name="yamada", roles=("包括化推進員",), agency="デモ市", password=PASSWORD):
        kasane = self.app.extensions["kasane"]
        if password == PASSWORD:
            return add_user_fast(kasane, name, roles, agency, self.password_hash)
        return kasane.add_user(name, list(roles), agency, password)

    def login(self, name="yamada", password=PASSWORD, next_path=None):
        page = self.client.get("/login")
        data = {"csrf_token": csrf_token(page.get_data(as_text=True)), "name": name,
                "password": password}
        if next_path is not None:
            data["next"] = next_path
        return self.client.post("/login", data=data)

    def logout(self):
        page = self.client.get("/")
        return self.client.post("/logout",
                                data={"csrf_token": csrf_token(page.get_data(as_text=True))})


@pytest.fixture
def auth(app, client, _password_hash):
    return Auth(app, client, _password_hash)


@pytest.fixture(scope="session")
def _password_hash():
    return PasswordHasher().hash(PASSWORD)  # argon2 is slow on purpose: hash it once


@pytest.fixture
def signed_in(app, client, _password_hash):
    """A client signed in as yamada (包括化推進員, デモ市), without the cost of argon2:
    the user gets a ready hash and the session what Flask-Login would put there."""
    add_user_fast(app.extensions["kasane"], "yamada", ["包括化推進員"], "デモ市", _password_hash)
    with client.session_transaction() as session:
        session["_user_id"] = f"yamada|{fingerprint(_password_hash)}"
        session["_fresh"] = True
    return client


# ---- browser tests -------------------------------------------------------------------------


class LiveServer:
    def __init__(self, url: str, database_url: str, password_hash: str):
        self.url = url
        self.database_url = database_url
        self.kasane = Kasane(database_url)
        self.password_hash = password_hash

    def add_user(self, prefix: str, roles=("相談支援コーディネーター",), agency="福祉まるごと相談室") -> str:
        """A new user (password PASSWORD) with a name of its own: the server is shared."""
        name = f"{prefix}-{secrets.token_hex(3)}"
        add_user_fast(self.kasane, name, roles, agency, self.password_hash)
        return name


def _closed_bodies(wsgi_app):
    """werkzeug's development server skips a response's close() when the browser drops the
    connection while the server drains the request (run_wsgi's ``finally``), which leaves the
    file of a send_file open until garbage collection warns. The live server therefore reads
    each body whole and closes it before handing it over; gunicorn is not affected."""
    def app(environ, start_response):
        body = wsgi_app(environ, start_response)
        try:
            return [b"".join(body)]
        finally:
            if hasattr(body, "close"):
                body.close()
    return app


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):  # the app logs each request itself
        pass


@pytest.fixture(scope="session")
def _live_database(_database_template, tmp_path_factory):
    """A database of the live server's own: the per-test fixtures empty theirs."""
    kind, source = _database_template
    if kind == "sqlite":
        target = tmp_path_factory.mktemp("live") / "kasane.db"
        shutil.copy(source, target)
        yield f"sqlite:///{target}"
        return
    url = make_url(source[0])
    name = f"{url.database}_live"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    live = url.set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(live)
    yield live
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# What the manager's modeler page will load: the prebuilt bundles, no bundler.
MODELER_PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>modeler</title>
{% for file in ['dist/assets/diagram-js.css', 'dist/assets/bpmn-js.css', 'dist/assets/bpmn-font/css/bpmn.css'] %}
<link rel="stylesheet" href="{{ vendor_url('bpmn-js', file) }}">{% endfor %}
<link rel="stylesheet" href="{{ vendor_url('@bpmn-io/properties-panel', 'dist/assets/properties-panel.css') }}">
<script src="{{ vendor_url('bpmn-js', 'dist/bpmn-modeler.production.min.js') }}"></script>
<script src="{{ vendor_url('bpmn-js-properties-panel', 'dist/bpmn-js-properties-panel.umd.js') }}"></script>
<script src="{{ vendor_url('dmn-js', 'dist/dmn-modeler.production.min.js') }}"></script>
</head><body><div id="canvas"></div><div id="panel"></div>
<div id="camunda" data-url="{{ vendor_url('camunda-bpmn-moddle', 'resources/camunda.json') }}"></div>
</body></html>"""


def _modeler_page():
    response = make_response(render_template_string(MODELER_PAGE))
    # diagram-js and the panel set inline styles: a modeler page needs 'unsafe-inline' styles.
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'"
    return response


@pytest.fixture(scope="session")
def live_server(_live_database, _password_hash):
    """The real app on a free port, in a thread of this worker, with production settings
    but for the form preview, a low sign-in limit and a test page for the modeler bundles."""
    app = create_app({
        "DATABASE_URL": _live_database,
        "SECRET_KEY": secrets.token_hex(32),
        "FORM_PREVIEW": True,
        "LOGIN_RATE_LIMIT": "3 per 15 minutes",
    })
    app.add_url_rule("/_test/modeler", view_func=_modeler_page)
    app.wsgi_app = _closed_bodies(app.wsgi_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{server.server_port}", _live_database, _password_hash)
    prepare(live.kasane)
    yield live
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    live.kasane.close()
    app.extensions["kasane"].close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser")
    from playwright.sync_api import sync_playwright
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def browser_context_options():
    return {}


@pytest.fixture
def page(browser, live_server, request, browser_context_options):
    """A fresh browser context (no cookies) per test; a screenshot of the page at the end
    goes to test-artifacts/."""
    context = browser.new_context(base_url=live_server.url, locale="ja-JP",
                                  **browser_context_options)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", request.node.name)
    try:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
