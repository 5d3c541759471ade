"""The README's first set-up command: the app on the demo data. The demo coordinator signs
in with the password the README lists and finds Japanese tasks in the inbox."""
from __future__ import annotations

import re

from engine.demo import DEMO_PASSWORD, load_demo
from tests.conftest import ROOT
from tests.webui.htmlform import csrf_token
from webui import create_app


def test_the_demo_coordinator_signs_in_to_a_non_empty_inbox(database_url):
    app = create_app({"DATABASE_URL": database_url, "TESTING": True})
    kasane = app.extensions["kasane"]
    load_demo(kasane, [ROOT / "workflows"])
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    signed = client.post("/login", data={"csrf_token": token, "name": "tanaka", "password": DEMO_PASSWORD},
                         follow_redirects=True)
    html = signed.get_data(as_text=True)
    assert signed.status_code == 200 and "ログインしました。" in html
    tasks = re.findall(r'class="task-row__name"><a [^>]*>([^<]+)</a>', html)
    assert tasks and all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", name) for name in tasks)
    assert {"受理判断", "同意確認"} & set(tasks)
    count = re.search(r'id="inbox-count"[^>]*>(\d+)<', html)
    assert count and int(count.group(1)) == len(tasks)
    kasane.close()
