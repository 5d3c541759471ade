"""Checking submitted data against a form: what the engine calls before a task or event runs.

    values = validate_form("モニタリング", payload)   # task data, or InvalidInput
    values = validate_form(None, payload)            # no form: a flat JSON object

Errors come back as one Japanese message per field, keyed by the field name; a list
position is named in words (``合意事項（2行目）``, ``接触の試み（1行目）の方法``).
"""
from __future__ import annotations

from marshmallow import ValidationError

import forms
from engine import storable
from engine.errors import InvalidInput

SCHEMA_KEY = "_schema"  # marshmallow's key for a message about the whole form or row


def validate_form(key: str | None, data) -> dict:
    """Form data checked against the task's form; one message per field, nothing stored."""
    if key is None:
        return check_flat_object(data or {})
    schema = forms.get_form(key)
    if schema is None:
        raise InvalidInput(f"フォーム '{key}' が見つかりません。")
    check_data(data)
    try:
        values = schema().load(data)
    except ValidationError as exc:
        raise InvalidInput("入力内容に誤りがあります。", flatten_messages(exc.messages)) from exc
    return check_data(values)  # what loading made of it (an integer from a long text, say)


def check_data(data) -> dict:
    """What a caller sends is a JSON object that can be stored: no NaN or infinity, no
    integer past max_int_bits, no nesting past max_data_depth, no lone surrogate, not
    larger than max_state_bytes. Refused here, naming the field, so that such a value
    never reaches the database (PostgreSQL refuses NaN that SQLite keeps) and is never
    blamed on the model that would have stored it."""
    if not isinstance(data, dict):
        raise InvalidInput("データは JSON オブジェクトで指定してください。")
    try:
        storable.Walker().check_data(data)
        _refuse_nul(data)
    except storable.NotStorable as exc:
        name = field_name(exc.keys) or SCHEMA_KEY
        raise InvalidInput(f"「{name}」は保存できない値です（{exc.detail}）。" if exc.keys else
                           f"保存できない値です（{exc.detail}）。", {name: exc.detail}) from None
    return data


def _refuse_nul(data: dict) -> None:
    """A NUL character: JSON carries it, but PostgreSQL keeps it in no text column (a
    member's 氏名), so it is refused wherever it is. The walk is as deep as the data,
    which the storable check has bounded."""
    stack: list[tuple[tuple, object]] = [((), data)]
    while stack:
        keys, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise storable.NotStorable("", "文字列に NUL 文字（\\x00）は使えません", keys=keys)
        elif isinstance(value, dict):
            for key, child in value.items():
                if "\x00" in key:
                    raise storable.NotStorable("", "項目名に NUL 文字（\\x00）は使えません", keys=keys)
                stack.append(((*keys, key), child))
        elif isinstance(value, (list, tuple, set)):
            stack.extend(((*keys, index), child) for index, child in enumerate(value))


def field_name(keys) -> str:
    """A path of keys and list positions in words: ("接触の試み", 0, "方法") is
    ``接触の試み（1行目）の方法``, as form messages name fields."""
    keys = list(keys)
    if len(keys) > 12:  # a path 50 levels deep says no more than its ends
        keys = keys[:6] + ["…"] + keys[-4:]
    name = ""
    for key in keys:
        if isinstance(key, int):
            name += f"（{key + 1}行目）"
        else:
            name = f"{name}の{key}" if name else str(key)
    return name


def check_flat_object(data) -> dict:
    """Data for a task or event with no form: a flat JSON object."""
    check_data(data)
    nested = {k: "入れ子の値は使用できません。" for k, v in data.items()
              if isinstance(v, (dict, list))}
    bad_keys = {k: "項目名は識別子にしてください。" for k in data
                if not isinstance(k, str) or not k.isidentifier() or k.startswith("_")}
    if nested or bad_keys:
        raise InvalidInput("データが正しくありません。", {**nested, **bad_keys})
    return data


def flatten_messages(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {field name: message}, list positions in words.

    ``{"接触の試み": {0: {"方法": [...]}}}`` becomes ``{"接触の試み（1行目）の方法": ...}`` and
    ``{"合意事項": {1: [...]}}`` becomes ``{"合意事項（2行目）": ...}``; a message about a whole
    row is keyed by the row (``課題（1行目）``).
    """
    flat: dict[str, str] = {}
    if not isinstance(messages, dict):
        flat[prefix or SCHEMA_KEY] = " ".join(map(str, messages))
        return flat
    for key, value in messages.items():
        if isinstance(key, int):
            name = f"{prefix}（{key + 1}行目）"
        elif key == SCHEMA_KEY and prefix:
            name = prefix
        else:
            name = f"{prefix}の{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten_messages(value, name))
        else:
            flat[name] = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return flat
