"""Gherkin data tables (``項目 | 値``) turned into form data.

A table names only the fields that matter to the spec; every other field of the form
takes its example value (``forms.example_values``). Values are read by the field's widget:

- date, text, textarea, select: the text as written (a select takes its label);
- number: an integer (text that is not one is passed on for the form to refuse);
- checkbox: はい/いいえ (also true/false);
- multiselect: a list split on ``、`` or ``,``;
- rows: JSON text (a list of objects);
- ``（空）`` or ``(空)``: empty (None, or [] for lists, False for a checkbox).

An item that is neither a field name nor a field label of the form fails the step.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

import forms

EMPTY = frozenset({"（空）", "(空)"})
HEADER = ("項目", "値")
TRUE_WORDS = frozenset({"はい", "true", "True", "TRUE", "yes", "✓"})
FALSE_WORDS = frozenset({"いいえ", "false", "False", "FALSE", "no"})
LIST_SEPARATORS = re.compile(r"[、,，]")


def table_items(datatable: list[list[str]] | None) -> list[tuple[str, str]]:
    """The (項目, 値) pairs of a table; a leading 項目|値 header row is skipped."""
    if not datatable:
        return []
    rows = [[cell.strip() for cell in row] for row in datatable]
    if tuple(rows[0]) == HEADER:
        rows = rows[1:]
    items: list[tuple[str, str]] = []
    seen: set[str] = set()
    for number, row in enumerate(rows, start=1):
        if len(row) != 2:
            pytest.fail(f"表の {number} 行目は「項目 | 値」の2列にしてください: {' | '.join(row)}")
        name, value = row
        if not name:
            pytest.fail(f"表の {number} 行目の項目名が空です。")
        if name in seen:
            pytest.fail(f"表に項目「{name}」が2回あります。")
        seen.add(name)
        items.append((name, value))
    return items


def _parse_value(spec: dict[str, Any], text: str) -> Any:
    widget = spec["widget"]
    if text in EMPTY:
        if widget in ("multiselect", "rows", "agencies"):
            return []
        if widget == "checkbox":
            return False
        return None
    if widget == "number":
        try:
            return int(text)
        except ValueError:
            return text  # the form refuses it with its own message
    if widget == "checkbox":
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        return text
    if widget in ("multiselect", "agencies"):
        return [part.strip() for part in LIST_SEPARATORS.split(text) if part.strip()]
    if widget == "rows":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            pytest.fail(f"項目「{spec['name']}」は表形式の項目です。JSON の一覧で書いてください"
                        f"（例: [{{\"項目\": \"値\"}}]）: {exc.msg}")
    return text  # text, textarea, date (ISO text), select (the label)


def _field_lookup(form_key: str) -> dict[str, dict[str, Any]]:
    specs = forms.field_specs(form_key)
    lookup = {spec["label"]: spec for spec in specs}
    lookup.update({spec["name"]: spec for spec in specs})  # names win over labels
    return lookup


def form_data(form_key: str | None, datatable: list[list[str]] | None) -> dict[str, Any]:
    """Data for a form: the examples, overridden by the table's items."""
    items = table_items(datatable)
    if form_key is None or forms.get_form(form_key) is None:
        # No form: a flat object of texts, as the engine accepts for form-less tasks.
        return {name: (None if value in EMPTY else value) for name, value in items}
    data = forms.example_values(form_key)
    lookup = _field_lookup(form_key)
    for name, value in items:
        spec = lookup.get(name)
        if spec is None:
            known = "、".join(s["name"] for s in forms.field_specs(form_key))
            pytest.fail(f"フォーム「{form_key}」に項目「{name}」はありません。項目: {known}")
        data[spec["name"]] = _parse_value(spec, value)
    return data
