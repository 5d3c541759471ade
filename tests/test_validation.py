"""forms/validation.py: the checks the engine runs on submitted data, and their messages."""
from __future__ import annotations

import inspect

import pytest

import forms
from engine import api, cases, events, human_tasks
from engine.clock import set_now
from engine.errors import InvalidInput
from forms import validation
from forms.validation import check_flat_object, flatten_messages, validate_form


@pytest.fixture(autouse=True)
def _today():
    set_now("2025-04-07")
    yield
    set_now(None)


def refused_fields(key, **values) -> dict:
    data = {**forms.example_values(key), **values}
    with pytest.raises(InvalidInput) as refused:
        validate_form(key, data)
    assert refused.value.message == "入力内容に誤りがあります。"
    return refused.value.fields


def test_rows_and_list_items_are_named_in_words():
    assert refused_fields("支援会議記録", 合意事項=["見守り", "会食"]) == {
        "合意事項（2行目）": "選択肢から選んでください。"}
    attempts = [{"日付": "2025-09-24", "方法": "訪問", "結果": "接触"},
                {"日付": "2025-09-25", "方法": "手紙", "結果": "接触"}]
    assert refused_fields("中断協議", 接触の試み=attempts) == {
        "接触の試み（2行目）の方法": "選択肢から選んでください。"}
    assert refused_fields("アセスメント", 課題=["家計"]) == {
        "課題（1行目）": "入力の形式が正しくありません。"}
    assert refused_fields("相談受付", 連携シート=[{"紹介元": "地域包括支援センター"}]) == {
        "連携シート（1行目）の紹介先": "必須項目です。"}


def test_plain_fields_keep_their_names_and_checkbox_messages_read_as_japanese():
    assert refused_fields("プラン作成", 参加支援利用="たぶん") == {
        "参加支援利用": "「はい」か「いいえ」で入力してください。"}
    assert validate_form("プラン作成", {**forms.example_values("プラン作成"),
                                       "参加支援利用": "はい", "アウトリーチ利用": "いいえ"})[
        "参加支援利用"] is True
    assert flatten_messages({"_schema": ["入力の形式が正しくありません。"]}) == {
        "_schema": "入力の形式が正しくありません。"}


def test_data_without_a_form_is_a_flat_object():
    assert check_flat_object({"メモ": "あり"}) == {"メモ": "あり"}
    with pytest.raises(InvalidInput) as refused:
        validate_form(None, {"一覧": [1], "_x": 1})
    assert refused.value.fields == {"一覧": "入れ子の値は使用できません。", "_x": "項目名は識別子にしてください。"}
    with pytest.raises(InvalidInput):
        validate_form("存在しないフォーム", {})


def test_the_engine_uses_the_forms_checks_and_keeps_no_copy_of_them():
    assert api.validate_form is validation.validate_form
    assert api.check_flat_object is validation.check_flat_object
    for module in (api, human_tasks, events, cases):
        source = inspect.getsource(module)
        for name in ("validate_form", "flatten_messages", "check_flat_object"):
            assert f"def {name}(" not in source, (module.__name__, name)
        assert "from engine.cases import check_flat_object" not in source
