"""Every task and event form rendered from its metadata (/_forms/<key>), posted back the
way a browser posts it, and refused with Japanese messages inline."""
from __future__ import annotations

import json
import re

import pytest
from werkzeug.datastructures import MultiDict

import forms
from engine import clock
from tests.webui.conftest import AGENCIES
from tests.webui.htmlform import Page, csrf_token
from webui import create_app
from webui.formdata import field_id

KEYS = list(forms.FORMS)


@pytest.fixture(autouse=True)
def _before_the_example_dates():
    clock.set_now("2025-04-07")  # the examples' future dates (モニタリング予定日) stay ahead


def url(key, **query):
    return "/_forms/" + key + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def post(client, key, values: MultiDict, headers=None):
    page = client.get(url(key))
    values = MultiDict(values)
    values["csrf_token"] = csrf_token(page.get_data(as_text=True))
    return client.post(url(key), data=values, headers=headers or {})


def result_of(response) -> dict:
    match = re.search(r'<pre class="json" id="result">(.*?)</pre>', response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:2000]
    return json.loads(match.group(1))


def expected_ids(specs, prefix=""):
    for spec in specs:
        name = prefix + spec["name"]
        if spec["widget"] == "rows":
            yield from expected_ids(spec["fields"], f"{name}.0.")
        else:
            yield field_id(name), spec


@pytest.mark.parametrize("key", KEYS)
def test_every_field_has_a_label(signed_in, key):
    response = signed_in.get(url(key))
    assert response.status_code == 200
    page = Page(response.get_data(as_text=True))
    for control_id, spec in expected_ids(forms.field_specs(key)):
        assert control_id in page.labels, f"{key}: no <label for={control_id}>"
        grouped = control_id + "-group" in page.legends  # radios and checkbox lists
        label = page.legends[control_id + "-group"] if grouped else page.labels[control_id]
        assert spec["label"] in label
        assert ("必須" in label) == spec["required"]
        if grouped:
            first = [c for c in page.controls if c.attrs.get("id") == control_id][0]
            assert page.labels[control_id] == first.attrs["value"]
            if spec["choices"]:
                assert first.attrs["value"] == spec["choices"][0]
        if spec["widget"] == "date":
            assert any(c.attrs.get("id") == control_id and c.type == "date" for c in page.controls)
    for control in page.controls:  # nothing unlabelled either
        if control.type not in ("hidden", "submit") and control.tag != "button":
            assert control.attrs.get("id") in page.labels, control.attrs


@pytest.mark.parametrize("key", KEYS)
def test_the_examples_round_trip_through_the_page(signed_in, key):
    page = Page(signed_in.get(url(key, example=1)).get_data(as_text=True))
    response = post(signed_in, key, page.form_values())
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    schema = forms.get_form(key)()
    expected = schema.dump(schema.load(forms.example_values(key)))
    assert result_of(response) == in_choice_order(key, expected)


def in_choice_order(key, data):
    """Ticked boxes come back in the order the choices are listed, as a browser sends them."""
    data = dict(data)
    for spec in forms.field_specs(key):
        if spec["widget"] == "multiselect" and spec["name"] in data:
            data[spec["name"]] = [c for c in spec["choices"] if c in data[spec["name"]]]
    return data


@pytest.mark.parametrize("key", KEYS)
def test_an_empty_form_names_every_required_field(signed_in, key):
    response = post(signed_in, key, MultiDict([("_action", "submit")]))
    required = [s for s in forms.field_specs(key) if s["required"]]
    assert response.status_code == 422 if required else 200
    html = response.get_data(as_text=True)
    for spec in required:
        assert re.search(rf'id="{re.escape(field_id(spec["name"]))}-error">.*?必須項目です。', html), spec["name"]


def test_invalid_input_is_shown_inline_and_kept(signed_in):
    page = Page(signed_in.get(url("アセスメント", example=1)).get_data(as_text=True))
    values = page.form_values()
    values["実施日"] = "2025年6月9日"
    values["世帯員.0.氏名"] = ""
    values["世帯員.0.年齢"] = "五十三"
    values["世帯員.0.疾病"] = "高血圧"
    values["生活歴"] = "長男は\r\n離職後、ひきこもっている。"
    response = post(signed_in, "アセスメント", values)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    page = Page(html)
    by_id = {c.attrs.get("id"): c for c in page.controls}
    assert ('id="f-実施日-error"><span class="visually-hidden">エラー:</span>'
            '日付の形式が正しくありません（例: 2025-04-07）。') in html
    assert by_id["f-実施日"].attrs["value"] == "2025年6月9日"  # shown as text, as typed
    assert by_id["f-実施日"].type == "text"
    assert by_id["f-実施日"].attrs["aria-invalid"] == "true"
    assert by_id["f-実施日"].attrs["aria-describedby"] == "f-実施日-error"
    assert "必須項目です。" in html and "整数で入力してください。" in html
    assert by_id["f-世帯員-0-年齢"].attrs["value"] == "五十三"
    assert by_id["f-世帯員-0-疾病"].attrs["value"] == "高血圧"
    assert by_id["f-生活歴"].text.strip() == "長男は\n離職後、ひきこもっている。"
    assert '<a href="#f-世帯員-0-氏名"' in html  # the summary links to the field
    assert "世帯員 1行目 氏名: 必須項目です。" in html
    kept = [v for v, selected in by_id["f-世帯員-0-続柄"].options if selected]
    assert kept == ["子"]


def test_choices_come_as_radios_selects_and_checkboxes(signed_in):
    page = Page(signed_in.get(url("相談受付", example=1)).get_data(as_text=True))
    types = {}
    for control in page.controls:
        types.setdefault(control.name, set()).add(control.type)
    assert types["対応"] == {"radio"}          # required, four choices
    assert types["受付分野"] == {"select"}     # five choices
    assert types["相談内容"] == {"checkbox"}   # multiselect
    assert types["受付日"] == {"date"}
    assert types["相談の概要"] == {"textarea"}
    checked = [c.attrs["value"] for c in page.controls if c.name == "相談内容" and "checked" in c.attrs]
    assert checked == ["税・公共料金", "介護", "ひきこもり・不登校"]


def test_a_field_rule_message_is_shown_at_its_field(signed_in):
    values = Page(signed_in.get(url("モニタリング", example=1)).get_data(as_text=True)).form_values()
    values["次回予定日"] = "2000-01-01"
    response = post(signed_in, "モニタリング", values)
    assert response.status_code == 422
    assert re.search(r'id="f-次回予定日-error">.*?次回予定日は', response.get_data(as_text=True))


def test_agencies_are_chosen_from_the_register(app, signed_in):
    page = Page(signed_in.get(url("同意確認")).get_data(as_text=True))
    offered = [c.attrs["value"] for c in page.controls if c.name == "共有先"]
    registered = [a["agency"] for a in app.extensions["kasane"].list_agencies()]
    assert offered == registered and set(AGENCIES) <= set(offered)
    assert all(c.type == "checkbox" for c in page.controls if c.name == "共有先")


def test_add_and_remove_rows_without_javascript(signed_in):
    page = Page(signed_in.get(url("アセスメント")).get_data(as_text=True))
    values = page.form_values(submitter=None)
    values["世帯員.0.氏名"] = "重 一郎"
    values["実施者"] = "田中"
    values["_action"] = "add:世帯員"
    response = post(signed_in, "アセスメント", values)
    assert response.status_code == 200  # nothing is checked yet
    page = Page(response.get_data(as_text=True))
    names = {c.name: c for c in page.controls}
    assert names["世帯員.0.氏名"].attrs["value"] == "重 一郎"
    assert names["世帯員.1.氏名"].attrs["value"] == ""
    assert "autofocus" in names["世帯員.1.氏名"].attrs
    assert names["実施者"].attrs["value"] == "田中"
    assert "世帯員.2.氏名" not in names

    values = page.form_values(submitter=("_action", "remove:世帯員.0"))
    page = Page(post(signed_in, "アセスメント", values).get_data(as_text=True))
    names = {c.name: c for c in page.controls}
    assert names["世帯員.0.氏名"].attrs["value"] == ""  # the blank row moved up
    assert "世帯員.1.氏名" not in names


def test_add_a_row_with_htmx_gets_the_table_alone(signed_in):
    values = MultiDict([("世帯員.0.氏名", "重 一郎"), ("_action", "add:世帯員")])
    response = post(signed_in, "アセスメント", values, headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "HX-Request" in response.headers["Vary"]
    assert html.lstrip().startswith('<fieldset class="field field--rows" id="rows-世帯員"')
    assert "<html" not in html and 'name="実施日"' not in html
    assert 'value="重 一郎"' in html and 'name="世帯員.1.氏名"' in html
    boosted = post(signed_in, "アセスメント", values,
                   headers={"HX-Request": "true", "HX-Boosted": "true"})
    assert "<html" in boosted.get_data(as_text=True)  # a boosted form gets the page


def test_the_preview_needs_sign_in_and_a_known_key(client, signed_in):
    assert signed_in.get(url("存在しないフォーム")).status_code == 404
    signed_in.post("/logout", data={"csrf_token": csrf_token(signed_in.get("/").get_data(as_text=True))})
    assert client.get(url("相談受付")).status_code == 302


def test_the_preview_exists_only_in_tests_or_when_switched_on(database_url):
    for config, status in (({}, 404), ({"FORM_PREVIEW": True}, 302)):
        app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "k", **config})
        assert app.test_client().get(url("相談受付")).status_code == status
        app.extensions["kasane"].close()
