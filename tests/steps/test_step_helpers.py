"""Unit tests of the step helpers: table parsing and calendar months."""
from __future__ import annotations

import pytest

import forms
from engine import clock
from tests.steps.clock import add_months
from tests.steps.tables import form_data, table_items


def test_header_row_is_optional():
    assert table_items([["項目", "値"], ["対応", "自機関対応"]]) == [("対応", "自機関対応")]
    assert table_items([["対応", "自機関対応"]]) == [("対応", "自機関対応")]
    assert table_items(None) == []


@pytest.mark.parametrize("rows", [[["対応"]], [["対応", "a", "b"]], [["対応", "a"], ["対応", "b"]], [["", "a"]]])
def test_malformed_tables_fail(rows):
    with pytest.raises(pytest.fail.Exception):
        table_items(rows)


def test_values_by_widget_and_examples_for_the_rest():
    data = form_data("プラン作成", [
        ["モニタリング予定日", "2025-12-01"], ["参加支援利用", "いいえ"], ["アウトリーチ利用", "true"],
        ["主担当機関", "（空）"], ["支援内容", '[{"課題": "家計", "支援内容": "家計改善支援"}]']])
    assert data["モニタリング予定日"] == "2025-12-01"
    assert data["参加支援利用"] is False and data["アウトリーチ利用"] is True
    assert data["主担当機関"] is None
    assert data["支援内容"] == [{"課題": "家計", "支援内容": "家計改善支援"}]
    assert data["長期目標"] == forms.example_values("プラン作成")["長期目標"]


def test_lists_numbers_labels_and_empty_lists():
    data = form_data("支援会議記録", [["合意事項", "見守り、アウトリーチ,緊急対応"], ["構成員", "(空)"]])
    assert data["合意事項"] == ["見守り", "アウトリーチ", "緊急対応"]
    assert data["構成員"] == []
    assert form_data("アセスメント", [["債務・滞納", "（空）"]])["債務滞納"] == []  # a label
    row = form_data("相談受付", [["相談内容", "介護"]])
    assert row["相談内容"] == ["介護"]


def test_unparsable_values_go_to_the_form_to_refuse():
    assert form_data("受理判断", [["WG会議", "たぶん"]])["WG会議"] == "たぶん"


def test_unknown_items_and_bad_json_fail_with_the_field_list():
    with pytest.raises(pytest.fail.Exception, match="項目「担当者」はありません。項目: 判断日"):
        form_data("受理判断", [["担当者", "田中"]])
    with pytest.raises(pytest.fail.Exception, match="JSON"):
        form_data("プラン作成", [["支援内容", "家計改善"]])


def test_form_less_tasks_take_the_table_as_texts():
    assert form_data(None, [["メモ", "あり"], ["空", "（空）"]]) == {"メモ": "あり", "空": None}


@pytest.mark.parametrize("start, months, expected", [
    ("2025-01-31T13:30", 1, "2025-02-28T13:30:00+09:00"),
    ("2024-01-31", 1, "2024-02-29T09:00:00+09:00"),
    ("2025-10-03", 3, "2026-01-03T09:00:00+09:00"),
])
def test_calendar_months_clamp_and_keep_the_time(start, months, expected):
    assert add_months(clock.parse_instant(start), months).isoformat() == expected
