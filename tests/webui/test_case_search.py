"""Case search (/cases) with the real app and engine: 氏名 and ふりがな, partial match, only
the cases the user may see, pages of 50, htmx fragments and whole pages."""
from __future__ import annotations

import html as htmllib
import re

import pytest

from engine import clock, households
from tests.conftest import MODELS
from tests.webui.htmlform import Page
from tests.webui.people import HTMX, INTAKE, intake, sign_in_as, text_of


@pytest.fixture
def office(app, _password_hash):
    clock.set_now("2025-04-07")
    app.extensions["kasane"].add_agency("包括B", "地域包括支援センター")
    return {"kasane": app.extensions["kasane"],
            "yamada": sign_in_as(app, _password_hash, "yamada", [INTAKE], "デモ市"),
            "tanaka": sign_in_as(app, _password_hash, "tanaka"),
            "kimura": sign_in_as(app, _password_hash, "kimura", [INTAKE], "包括B")}


def hits(html: str) -> list[str]:
    """The result rows as people read them."""
    body = html[html.index("<tbody>"):html.index("</tbody>")] if "<tbody>" in html else ""
    return [text_of(row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def search(client, query, **kwargs):
    response = client.get("/cases", query_string={"q": query}, **kwargs)
    return response, response.get_data(as_text=True)


def test_partial_names_and_kana_find_the_cases_a_user_may_see(office):
    first = intake(office["kasane"], "yamada", "重 花子", "かさね はなこ")
    second = intake(office["kasane"], "yamada", "山田 花子", "やまだ はなこ")
    response, html = search(office["yamada"], "花子")
    assert response.status_code == 200 and "<h1>ケース検索</h1>" in html
    assert hits(html) == [f"山田 花子 やまだ はなこ 本人 ケース {second} 多機関協働 ケース全体",
                          f"重 花子 かさね はなこ 本人 ケース {first} 多機関協働 ケース全体"]
    assert f'<a href="/cases/{first}">重 花子</a>' in html and "「花子」を含む方: 2件" in html
    assert [row.split()[0] for row in hits(search(office["yamada"], "カサネ")[1])] == ["重"]  # katakana
    assert len(hits(search(office["yamada"], "はな")[1])) == 2
    # 福祉まるごと相談室 holds the cases too: both were referred to it at 多機関協働.
    assert len(hits(search(office["tanaka"], "はなこ")[1])) == 2
    assert 'value="花子"' in search(office["yamada"], "花子")[1]  # the query stays in the box


def test_another_agencys_cases_are_not_found(office):
    intake(office["kasane"], "yamada", "重 花子", "かさね はなこ")
    response, html = search(office["kimura"], "花子")
    assert response.status_code == 200 and hits(html) == []
    assert "「花子」に該当する方は見つかりませんでした。" in html and "重 花子" not in html


def test_results_page_by_50_with_the_cursor(office):
    kasane = office["kasane"]
    kasane.deploy([MODELS / "sample.bpmn"])
    opened = [kasane.open_case("sample", "yamada")["case_id"] for _ in range(52)]
    with kasane.transaction() as session:  # a 本人 for each case, as intake would record
        for n, case_id in enumerate(opened):
            households.upsert(session, case_id, f"佐藤 花子{n}", kana="さとう はなこ", principal=True)
    _, html = search(office["yamada"], "さとう")
    assert len(hits(html)) == 50 and "「さとう」を含む方: 50件" in html
    link = htmllib.unescape(re.search(r'class="pager__next" href="([^"]+)"[^>]*>次の50件</a>', html).group(1))
    html = office["yamada"].get(link).get_data(as_text=True)
    rest = hits(html)
    assert len(rest) == 2 and "次の50件" not in html and "最初のページへ" in html
    assert "（続き）: 2件" in html
    assert sorted(int(row.split()[-3]) for row in rest) == opened[:2]


def test_an_empty_query_asks_for_a_name_and_a_long_one_is_refused(office):
    response, html = search(office["yamada"], "")
    assert response.status_code == 200 and "氏名またはふりがなを入力してください" in html and hits(html) == []
    response, html = search(office["yamada"], "あ" * 201)
    assert response.status_code == 422 and "検索語は200文字以内にしてください。" in html


def test_htmx_gets_the_results_only(office):
    intake(office["kasane"], "yamada", "重 花子", "かさね はなこ")
    response, html = search(office["yamada"], "かさね", headers=HTMX)
    assert html.lstrip().startswith('<section id="search-results"') and "<html" not in html
    assert len(hits(html)) == 1 and "HX-Request" in response.headers["Vary"]
    _, html = search(office["yamada"], "かさね", headers={**HTMX, "HX-Boosted": "true"})
    assert html.startswith("<!doctype html>")


def test_the_search_box_has_its_label_and_searches_as_one_types(office):
    _, html = search(office["yamada"], "")
    page = Page(html)
    box = next(c for c in page.controls if c.name == "q")
    assert page.labels[box.attrs["id"]] == "氏名またはふりがな" and box.type == "search"
    assert 'hx-trigger="input changed delay:400ms, search"' in html and 'hx-push-url="true"' in html


def test_search_needs_a_signed_in_user(client):
    response = client.get("/cases?q=花子")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
