"""Sign-in and sign-out: Flask-Login over the engine's verify_password, CSRF, the limit."""
from __future__ import annotations

from urllib.parse import unquote

import pytest
from sqlalchemy import update

from engine.store import User
from tests.webui.conftest import PASSWORD, prepare
from tests.webui.htmlform import Page, csrf_token
from webui import create_app
from webui.auth import local_path


def test_the_sign_in_page_labels_its_fields(client):
    response = client.get("/login")
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    assert page.labels == {"login-name": "利用者名", "login-password": "パスワード"}
    assert {c.attrs["autocomplete"] for c in page.controls if c.type != "hidden"} == {
        "username", "current-password"}


def test_signing_in_and_out(auth, client):
    auth.add_user()
    assert client.get("/").status_code == 302
    response = auth.login()
    assert response.status_code == 303 and response.headers["Location"] == "/"
    home = client.get("/").get_data(as_text=True)
    assert "<h1>担当タスク</h1>" in home and "ログインしました。" in home and "デモ市" in home
    assert 'id="inbox-count"' in home and 'id="flash"' in home
    response = auth.logout()
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_a_wrong_password_or_name_is_refused_alike(auth, client):
    auth.add_user()
    auth.add_user("nopass", password=None)  # a user without a password cannot sign in
    for name, password in (("yamada", "wrong-password"), ("nobody", PASSWORD), ("nopass", PASSWORD)):
        response = auth.login(name, password)
        assert response.status_code == 422
        html = response.get_data(as_text=True)
        assert "利用者名またはパスワードが正しくありません。" in html
        assert f'value="{name}"' in html and PASSWORD not in html
    assert client.get("/").status_code == 302


def test_empty_fields_are_named(auth):
    response = auth.login("", "")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="login-name-error"' in html and 'id="login-password-error"' in html
    assert html.count("必須項目です。") == 2


def test_next_goes_only_to_a_local_path(auth, client):
    auth.add_user()
    response = client.get("/_forms/相談受付?example=1")
    assert response.headers["Location"] == "/login?next=/_forms/%E7%9B%B8%E8%AB%87%E5%8F%97%E4%BB%98?example%3D1"
    location = auth.login(next_path="/_forms/相談受付?example=1").headers["Location"]
    assert unquote(location) == "/_forms/相談受付?example=1"
    auth.logout()
    assert auth.login(next_path="https://evil.example/").headers["Location"] == "/"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)", "", None, "relative", "/ok\r\nX: y"])
def test_local_path_refuses_other_hosts(target):
    assert local_path(target) is None


def test_local_path_keeps_paths_and_queries():
    assert local_path("/tasks/3?tab=履歴") == "/tasks/3?tab=履歴"


def test_a_changed_password_ends_the_session(auth, client, app):
    auth.add_user()
    auth.login()
    assert client.get("/").status_code == 200
    with app.extensions["kasane"].transaction() as db:
        db.execute(update(User).where(User.name == "yamada").values(password_hash="changed"))
    assert client.get("/").status_code == 302


def test_a_post_without_the_token_is_refused_in_japanese(auth, client):
    auth.add_user()
    response = client.post("/login", data={"name": "yamada", "password": PASSWORD})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "送信を受け付けられませんでした" in html and 'lang="ja"' in html
    assert client.get("/").status_code == 302  # not signed in


def test_htmx_sends_the_token_in_a_header(auth, client):
    auth.add_user()
    auth.login()
    token = csrf_token(client.get("/").get_data(as_text=True))
    page = client.get("/").get_data(as_text=True)
    assert "hx-headers=\"{&#34;X-CSRFToken&#34;: &#34;" in page
    response = client.post("/_forms/受理判断", headers={"X-CSRFToken": token, "HX-Request": "true"},
                           data={"判断日": "2025-04-18", "判断": "受理"})
    assert response.status_code == 200
    refused = client.post("/_forms/受理判断", headers={"HX-Request": "true"}, data={"判断": "受理"})
    assert refused.status_code == 400 and refused.headers["HX-Retarget"] == "#flash"


def test_the_session_cookie_is_httponly_and_lax(auth):
    auth.add_user()
    cookie = auth.login().headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_files_never_send_the_session_back(auth, client, app):
    """A file answered after a sign-out would otherwise sign the user in again."""
    auth.add_user()
    auth.login()
    assert "Set-Cookie" in client.get("/").headers  # a page refreshes the session
    vendor = app.extensions["kasane_vendor"].public_name("htmx.org", "dist/htmx.min.js")
    for url in ("/static/kasane.css", f"/vendor/{vendor}"):
        response = client.get(url)
        response.close()
        assert response.status_code == 200 and "Set-Cookie" not in response.headers, url


@pytest.mark.parametrize("config, headers, secure", [
    ({}, {}, False),
    ({"PREFERRED_URL_SCHEME": "https"}, {}, True),
    ({"PROXY_COUNT": 1}, {"X-Forwarded-Proto": "https"}, True),
    ({}, {"X-Forwarded-Proto": "https"}, False),  # no trusted proxy: the header is ignored
    ({"SESSION_COOKIE_SECURE": True}, {}, True),
    ({"SESSION_COOKIE_SECURE": False, "PREFERRED_URL_SCHEME": "https"}, {}, False),
])
def test_the_cookie_is_secure_over_https(database_url, config, headers, secure):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True, **config})
    client = app.test_client()
    response = client.get("/login", headers=headers)
    cookie = response.headers["Set-Cookie"]  # the CSRF token makes a session
    assert ("Secure" in cookie) == secure
    app.extensions["kasane"].close()


def test_sign_in_is_limited_after_failed_attempts(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True,
                      "LOGIN_RATE_LIMIT": "2 per 15 minutes", "LOGIN_RATE_LIMIT_PER_ADDRESS": "3 per hour"})
    prepare(app.extensions["kasane"])
    app.extensions["kasane"].add_user("yamada", ["包括化推進員"], None, PASSWORD)
    client = app.test_client()

    def attempt(name, password):
        token = csrf_token(client.get("/login").get_data(as_text=True))
        return client.post("/login", data={"csrf_token": token, "name": name, "password": password})

    assert attempt("yamada", "wrong-1").status_code == 422
    assert attempt("YAMADA ", "wrong-2").status_code == 422  # the same name
    refused = attempt("yamada", PASSWORD)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "しばらくお待ちください" in html and "一時的に受け付けを止めています" in html
    assert int(refused.headers["Retry-After"]) > 0
    assert attempt("sato", "wrong").status_code == 422  # another name: the address's 3rd
    assert attempt("suzuki", "wrong").status_code == 429  # the address is used up
    assert client.get("/login").status_code == 200  # the page itself is not limited
    app.extensions["kasane"].close()


def test_limits_belong_to_their_app(database_url):
    """Two apps in one process (as in the tests) keep their own counters and switches."""
    first = create_app({"DATABASE_URL": database_url, "TESTING": True, "LOGIN_RATE_LIMIT": "1 per hour"})
    second = create_app({"DATABASE_URL": database_url, "TESTING": True, "RATELIMIT_ENABLED": False})
    for app, statuses in ((first, [422, 429]), (second, [422, 422])):
        client = app.test_client()
        for status in statuses:
            token = csrf_token(client.get("/login").get_data(as_text=True))
            assert client.post("/login", data={"csrf_token": token, "name": "x", "password": "y"}
                               ).status_code == status
        app.extensions["kasane"].close()


def test_an_htmx_request_when_signed_out_redirects_the_window(client):
    response = client.get("/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/"
