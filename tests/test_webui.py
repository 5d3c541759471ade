"""The web app factory: configuration from KASANE_* and a health page that reaches the DB."""
from __future__ import annotations

from webui import create_app


def test_health_page_reports_the_database(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    response = app.test_client().get("/health")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    page = app.test_client().get("/")
    assert "kasane" in page.get_data(as_text=True) and 'lang="ja"' in page.get_data(as_text=True).replace("'", '"')
    app.extensions["kasane"].close()


def test_database_url_comes_from_the_environment(monkeypatch, database_url):
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    app = create_app()
    assert app.extensions["kasane"].url == database_url
    app.extensions["kasane"].close()
