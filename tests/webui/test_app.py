"""The factory: configuration, the secret key, security headers and the request log."""
from __future__ import annotations

import json
import logging
import os
import stat

import pytest

from tests.webui.htmlform import csrf_token
from webui import HTMX_CONFIG, create_app, logconfig
from webui.config import secret_key_from_instance


def test_settings_come_from_kasane_variables(monkeypatch, database_url):
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    monkeypatch.setenv("KASANE_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("KASANE_PROXY_COUNT", "1")
    monkeypatch.setenv("KASANE_LOGIN_RATE_LIMIT", "7 per hour")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["PROXY_COUNT"] == 1 and app.config["LOGIN_RATE_LIMIT"] == "7 per hour"
    assert app.extensions["kasane"].url == database_url
    assert not app.testing and not app.debug
    app.extensions["kasane"].close()


def test_the_secret_key_is_made_once_and_kept(tmp_path):
    first = secret_key_from_instance(str(tmp_path / "instance"))
    assert len(first) == 64
    assert secret_key_from_instance(str(tmp_path / "instance")) == first  # a restart keeps it
    mode = stat.S_IMODE(os.stat(tmp_path / "instance" / "secret_key").st_mode)
    assert mode == 0o600
    assert [p.name for p in (tmp_path / "instance").iterdir()] == ["secret_key"]


def test_an_app_without_a_key_uses_the_instance_folder(monkeypatch, database_url, tmp_path):
    monkeypatch.delenv("KASANE_SECRET_KEY", raising=False)
    monkeypatch.setattr("webui.secret_key_from_instance", lambda path: f"kept in {path}")
    app = create_app({"DATABASE_URL": database_url})
    assert app.config["SECRET_KEY"] == f"kept in {app.instance_path}"
    app.extensions["kasane"].close()


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def test_the_layout_configures_htmx(client):
    html = client.get("/login").get_data(as_text=True)
    assert '<script src="/vendor/htmx.org@2.' in html
    assert 'hx-boost="true"' in html and 'id="flash"' in html and 'href="#main"' in html
    codes = {rule["code"]: rule["swap"] for rule in HTMX_CONFIG["responseHandling"]}
    assert codes["422"] is True and HTMX_CONFIG["historyCacheSize"] == 0
    assert "&#34;422&#34;" in html


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []
        self.setFormatter(logconfig.JsonFormatter())

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))


@pytest.fixture
def request_log():
    handler = Records()
    logconfig.request_log.addHandler(handler)
    yield handler.lines
    logconfig.request_log.removeHandler(handler)


def test_one_json_line_per_request_without_form_data(signed_in, request_log):
    token = csrf_token(signed_in.get("/_forms/相談受付").get_data(as_text=True))
    request_log.clear()
    signed_in.post("/_forms/相談受付?氏名=重花子", data={"csrf_token": token, "氏名": "重 花子", "住所": "本町1-2-3"})
    assert len(request_log) == 1
    line = request_log[0]
    assert {k: line[k] for k in ("method", "path", "status", "user", "remote_addr")} == {
        "method": "POST", "path": "/_forms/相談受付", "status": 422, "user": "yamada",
        "remote_addr": "127.0.0.1"}
    assert isinstance(line["duration_ms"], float) and line["logger"] == "webui.requests"
    assert "重" not in json.dumps(line, ensure_ascii=False).replace("webui", "")
    assert "本町" not in json.dumps(line, ensure_ascii=False)


def test_errors_and_refusals_are_logged_too(client, request_log):
    client.get("/no-such-page")
    client.post("/login", data={"name": "x", "password": "y"})  # no CSRF token
    assert [(line["path"], line["status"], line["user"]) for line in request_log] == [
        ("/no-such-page", 404, None), ("/login", 400, None)]


def test_behind_a_proxy_the_client_address_is_logged(database_url, request_log):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, "PROXY_COUNT": 1})
    app.test_client().get("/login", headers={"X-Forwarded-For": "203.0.113.7"})
    assert request_log[-1]["remote_addr"] == "203.0.113.7"
    app.extensions["kasane"].close()
