"""Checking submitted data against a form: what the engine calls before a task or event runs.

    values = validate_form("モニタリング", payload)   # task data, or InvalidInput
    values = validate_form(None, payload)            # no form: a flat JSON object

Errors come back as one Japanese message per field, keyed by the field name; a field of a
repeating table is named by its row in words (``接触の試み（1行目）の方法``).
"""
from __future__ import annotations

from marshmallow import ValidationError, fields

import forms
from engine.errors import InvalidInput

SCHEMA_KEY = "_schema"  # marshmallow's key for a message about the whole form or row


def validate_form(key: str | None, data) -> dict:
    """Form data checked against the task's form; one message per field, nothing stored."""
    if key is None:
        return check_flat_object(data or {})
    schema = forms.get_form(key)
    if schema is None:
        raise InvalidInput(f"フォーム '{key}' が見つかりません。")
    if not isinstance(data, dict):
        raise InvalidInput("データは JSON オブジェクトで指定してください。")
    try:
        return schema().load(data)
    except ValidationError as exc:
        raise InvalidInput("入力内容に誤りがあります。", flatten_messages(exc.messages, schema)) from exc


def check_flat_object(data) -> dict:
    """Data for a task or event with no form: a flat JSON object."""
    if not isinstance(data, dict):
        raise InvalidInput("データは JSON オブジェクトで指定してください。")
    nested = {k: "入れ子の値は使用できません。" for k, v in data.items()
              if isinstance(v, (dict, list))}
    bad_keys = {k: "項目名は識別子にしてください。" for k in data
                if not isinstance(k, str) or not k.isidentifier() or k.startswith("_")}
    if nested or bad_keys:
        raise InvalidInput("データが正しくありません。", {**nested, **bad_keys})
    return data


def _item_name(name: str, index: int, field) -> str:
    """A list position in words: the n-th row of a table, the n-th choice of a multiselect."""
    rows = isinstance(field, fields.List) and isinstance(field.inner, fields.Nested)
    return f"{name}（{index + 1}{'行目' if rows else '番目'}）"


def flatten_messages(messages, schema=None, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {field name: message}.

    ``{"接触の試み": {0: {"方法": [...]}}}`` becomes ``{"接触の試み（1行目）の方法": ...}``;
    a message about a whole row is keyed by the row (``課題（1行目）``).
    """
    declared = getattr(schema, "_declared_fields", {}) if schema is not None else {}
    flat: dict[str, str] = {}
    if not isinstance(messages, dict):
        flat[prefix or SCHEMA_KEY] = " ".join(map(str, messages))
        return flat
    for key, value in messages.items():
        if key == SCHEMA_KEY and prefix:
            name, field = prefix, None
        else:
            name = f"{prefix}の{key}" if prefix else str(key)
            field = declared.get(key)
        if isinstance(value, dict):
            for index, inner in value.items():
                if isinstance(index, int):
                    row = _item_name(name, index, field)
                    nested = field.inner.nested if isinstance(getattr(field, "inner", None),
                                                              fields.Nested) else None
                    flat.update(flatten_messages(inner, nested, row))
                else:
                    flat.update(flatten_messages({index: inner}, None, name))
        else:
            flat[name] = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return flat
