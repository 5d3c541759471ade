"""Japanese error pages, the htmx error fragment in #flash, and no stack trace ever."""
from __future__ import annotations

import pytest
from flask import abort

from engine.errors import Conflict, Forbidden, NotFound
from webui import create_app


@pytest.fixture
def production_app(database_url):
    """TESTING off, as in production: errors go through the handlers, not to the test."""
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "k"})

    def boom():
        raise RuntimeError("secret detail: 重 花子 の住所")

    def engine_error(kind):
        raise {"notfound": NotFound("タスク '9' が見つかりません。"),
               "forbidden": Forbidden("この操作は役割「相談支援コーディネーター」の利用者だけが行えます。"),
               "conflict": Conflict("他の操作が同時にこのケースを更新しました。")}[kind]

    app.add_url_rule("/_boom", view_func=boom)
    app.add_url_rule("/_abort/<int:code>", view_func=lambda code: abort(code))
    app.add_url_rule("/_engine/<kind>", view_func=engine_error)
    yield app
    app.extensions["kasane"].close()


@pytest.mark.parametrize("path, status, title", [
    ("/no-such-page", 404, "ページが見つかりません"),
    ("/_abort/403", 403, "この操作は許可されていません"),
    ("/_abort/400", 400, "リクエストを処理できませんでした"),
    ("/_abort/429", 429, "しばらくお待ちください"),
    ("/_boom", 500, "システムエラーが発生しました"),
])
def test_error_pages_are_japanese(production_app, path, status, title):
    response = production_app.test_client().get(path)
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert 'lang="ja"' in html and f"<h1>{title}</h1>" in html
    assert "Traceback" not in html and "secret detail" not in html and "RuntimeError" not in html


def test_htmx_gets_a_fragment_retargeted_to_flash(production_app):
    client = production_app.test_client()
    for path, status in (("/no-such-page", 404), ("/_boom", 500)):
        response = client.get(path, headers={"HX-Request": "true"})
        html = response.get_data(as_text=True)
        assert response.status_code == status
        assert response.headers["HX-Retarget"] == "#flash"
        assert response.headers["HX-Reswap"] == "innerHTML"
        assert "HX-Request" in response.headers["Vary"]
        assert "<html" not in html and 'role="alert"' in html and f"エラー {status}" in html
    boosted = client.get("/no-such-page", headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True) and "HX-Retarget" not in boosted.headers


def test_engine_errors_become_their_status_with_the_engines_message(production_app):
    client = production_app.test_client()
    for kind, status in (("notfound", 404), ("forbidden", 403), ("conflict", 409)):
        response = client.get(f"/_engine/{kind}")
        assert response.status_code == status
    assert "タスク &#39;9&#39; が見つかりません。" in client.get("/_engine/notfound").get_data(as_text=True)


def test_a_500_is_logged_with_its_trace_on_the_server(production_app, capsys):
    production_app.test_client().get("/_boom")
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError" in err


def test_a_wrong_method_keeps_allow(production_app):
    response = production_app.test_client().get("/logout")
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert "この操作はできません" in response.get_data(as_text=True)


def test_a_trailing_slash_redirect_is_no_error(production_app):
    response = production_app.test_client().get("/_forms")  # no preview here: 404 anyway
    assert response.status_code == 404
    app = create_app({"DATABASE_URL": production_app.config["DATABASE_URL"], "TESTING": True})
    assert app.test_client().get("/_forms").status_code == 308
    app.extensions["kasane"].close()


def test_debug_and_testing_are_off_by_default(production_app):
    assert not production_app.debug and not production_app.testing
