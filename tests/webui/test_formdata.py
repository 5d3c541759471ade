"""webui.formdata: posted HTML fields to JSON-shaped task data, and messages to fields."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

import forms
from engine.errors import InvalidInput
from forms.validation import validate_form
from webui import formdata


def as_posted(specs, values, prefix=""):
    """The fields a browser posts for JSON-shaped ``values`` (unticked boxes are absent)."""
    posted = []
    for spec in specs:
        name = prefix + spec["name"]
        value = values.get(spec["name"])
        if spec["widget"] == "rows":
            for index, row in enumerate(value or []):
                posted += as_posted(spec["fields"], row, f"{name}.{index}.").items(multi=True)
        elif spec["widget"] in formdata.MULTIPLE:
            posted += [(name, choice) for choice in value or []]
        elif spec["widget"] == "checkbox":
            if value:
                posted.append((name, "true"))
        else:
            posted.append((name, "" if value is None else str(value)))
    return MultiDict(posted)


def entered(values):
    """JSON-shaped data as a browser can post it: a field left empty (None, [], "") is
    not entered, so its key is absent (a checkbox is always there)."""
    if isinstance(values, list):
        return [entered(v) for v in values]
    if not isinstance(values, dict):
        return values
    return {k: entered(v) for k, v in values.items() if v not in (None, [], "")}


@pytest.mark.parametrize("key", list(forms.FORMS))
def test_the_examples_posted_come_back_as_the_examples(key):
    posted = as_posted(forms.field_specs(key), forms.example_values(key))
    assert formdata.from_form(key, posted) == entered(forms.example_values(key))


def test_agencies_are_posted_like_ticked_choices():
    posted = MultiDict([("共有先", "デモ市"), ("共有先", "福祉まるごと相談室"), ("同意", "あり")])
    data = formdata.from_form("同意確認", posted)
    assert data["共有先"] == ["デモ市", "福祉まるごと相談室"]
    assert "共有先" not in formdata.from_form("同意確認", MultiDict([("同意", "なし")]))


def test_each_widget_becomes_its_json_shape():
    posted = MultiDict([
        ("実施日", " 2025-06-09 "), ("実施者", ""), ("生活歴", "一行目\r\n二行目\r\n"),
        ("収入源", "年金"), ("収入源", "給与"), ("債務滞納", ""),
        ("世帯員.0.氏名", "重 一郎"), ("世帯員.0.年齢", "５３"), ("世帯員.0.ヤングケアラー", "true"),
        ("世帯員.1.氏名", ""), ("世帯員.1.年齢", ""),                       # an empty row
        ("世帯員.3.氏名", "重 花子"), ("世帯員.3.年齢", "八十"),            # a gap is fine
        ("課題.0.分野", ""), ("課題.0.内容", ""),
        ("csrf_token", "x"), ("_action", "submit"), ("知らない項目", "x"),
    ])
    data = formdata.from_form("アセスメント", posted)
    assert data["実施日"] == "2025-06-09"
    assert "実施者" not in data  # empty means not entered
    assert data["生活歴"] == "一行目\n二行目"
    assert data["収入源"] == ["年金", "給与"]
    assert "債務滞納" not in data and "リスク" not in data  # none ticked
    assert data["世帯員"][0]["年齢"] == 53  # full-width digits from an IME
    assert data["世帯員"][0]["ヤングケアラー"] is True
    assert data["世帯員"][1] == {"氏名": "重 花子", "年齢": "八十", "ヤングケアラー": False}
    assert len(data["世帯員"]) == 2
    assert "課題" not in data and "関係機関" not in data
    assert set(data) <= {s["name"] for s in forms.field_specs("アセスメント")}


def test_a_checkbox_is_a_boolean_either_way():
    assert formdata.from_form("受理判断", MultiDict())["WG会議"] is False
    assert formdata.from_form("受理判断", MultiDict([("WG会議", "true")]))["WG会議"] is True


def test_rows_helpers():
    posted = MultiDict([("世帯員.0.氏名", "a"), ("世帯員.2.氏名", ""), ("世帯員.5.氏名", "b"),
                        ("世帯員.x.氏名", "?"), ("課題.0.内容", "")])
    assert formdata.row_indices(posted, "世帯員") == [0, 2, 5]
    assert formdata.blank_rows("アセスメント", posted) == {"世帯員": 1, "課題": 1, "関係機関": 0}
    rest = formdata.without_row(posted, "世帯員", 0)
    assert formdata.row_indices(rest, "世帯員") == [2, 5]
    assert formdata.field_id("世帯員.0.氏名") == "f-世帯員-0-氏名"


def schema_messages(key, data):
    with pytest.raises(ValidationError) as excinfo:
        forms.get_form(key)().load(data)
    return excinfo.value.messages


def test_nested_messages_land_on_their_fields():
    data = {"実施日": "昨日", "収入源": ["年金", "宝くじ"],
            "世帯員": [{"氏名": "重 一郎"}, {"年齢": "八十"}], "課題": ["not a row"]}
    errors = formdata.errors_for("アセスメント", schema_messages("アセスメント", data))
    assert errors["実施日"] == ["日付の形式が正しくありません（例: 2025-04-07）。"]
    assert errors["収入源"] == ["選択肢から選んでください。"]  # one bad choice: the field
    assert errors["世帯員.1.氏名"] == ["必須項目です。"]
    assert errors["世帯員.1.年齢"] == ["整数で入力してください。"]
    assert errors["課題.0"] == ["入力の形式が正しくありません。"]  # the row itself
    assert "世帯員.0.氏名" not in errors


def test_the_engines_flat_messages_land_on_the_same_fields():
    data = {"実施日": "2025-06-09", "世帯員": [{"年齢": "八十"}]}
    with pytest.raises(InvalidInput) as excinfo:
        validate_form("アセスメント", data)
    assert set(excinfo.value.fields) == {"世帯員（1行目）の氏名", "世帯員（1行目）の年齢"}
    errors = formdata.errors_for("アセスメント", excinfo.value.fields)
    assert errors == {"世帯員.0.氏名": ["必須項目です。"], "世帯員.0.年齢": ["整数で入力してください。"]}
    # a list position of a multiselect, and the dotted form, land on the same fields too
    assert formdata.errors_for("支援会議記録", {"合意事項（2行目）": "選択肢から選んでください。"}) == {
        "合意事項": ["選択肢から選んでください。"]}
    assert formdata.errors_for("アセスメント", {"世帯員.0.氏名": "必須項目です。"}) == {
        "世帯員.0.氏名": ["必須項目です。"]}


def test_messages_about_no_field_belong_to_the_form():
    errors = formdata.errors_for("受理判断", {"_schema": ["全体の誤り"], "余計": ["この項目はフォームにありません。"],
                                          "判断": "選択肢から選んでください。"})
    assert errors == {"_form": ["全体の誤り", "この項目はフォームにありません。"],
                      "判断": ["選択肢から選んでください。"]}
