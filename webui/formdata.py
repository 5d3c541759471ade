"""Between HTML form fields and the JSON-shaped task data the engine and the forms expect.

Field names in HTML are the form's field names; a repeating row's fields are
``<rows field>.<index>.<field>`` (``世帯員.0.氏名``), the same dotted paths the engine
uses for its error messages (``InvalidInput.fields``).

- text, textarea, date, select, number: the value, stripped; empty means not entered (the
  key is left out). Dates and numbers are NFKC-normalised first (full-width digits from a
  Japanese IME); a whole number becomes an int, anything else stays text for the schema
  to refuse in Japanese.
- multiselect, agencies: the list of ticked choices, left out when none is ticked.
- checkbox: True when ticked, else False.
- rows: a list of dicts in index order; a row with nothing entered is dropped, and the
  key is left out when no row is left.

No Flask here: ``form`` is any MultiDict (``request.form``).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

import forms

FORM_ERRORS = "_form"  # key of the messages that belong to no single field
MULTIPLE = ("multiselect", "agencies")  # widgets posted as several values of one name
_WHOLE_NUMBER = re.compile(r"[+-]?\d+")
# The engine names a list position in words: 世帯員（1行目）の氏名, 合意事項（2行目）.
_ROW_IN_WORDS = re.compile(r"（(\d+)行目）(?:の)?")


def field_id(name: str) -> str:
    """The HTML id of a field's control: ``世帯員.0.氏名`` → ``f-世帯員-0-氏名``."""
    return "f-" + name.replace(".", "-")


def from_form(key: str, form: MultiDict) -> dict[str, Any]:
    """The task data posted for the form ``key`` (fields of other names are ignored)."""
    return _values(forms.field_specs(key), form, "")


def _values(specs: list[dict], form: MultiDict, prefix: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for spec in specs:
        name = prefix + spec["name"]
        widget = spec["widget"]
        if widget == "checkbox":
            data[spec["name"]] = name in form
        elif widget in MULTIPLE:
            chosen = [value.strip() for value in form.getlist(name) if value.strip()]
            if chosen:
                data[spec["name"]] = chosen
        elif widget == "rows":
            rows = [_values(spec["fields"], form, f"{name}.{index}.")
                    for index in row_indices(form, name)]
            rows = [row for row in rows if not is_blank_row(spec["fields"], row)]
            if rows:
                data[spec["name"]] = rows
        else:
            value = _scalar(widget, form.get(name, ""))
            if value is not None:
                data[spec["name"]] = value
    return data


def _scalar(widget: str, raw: str) -> Any:
    if widget == "textarea":
        raw = raw.replace("\r\n", "\n")  # browsers send CRLF line breaks
    elif widget in ("date", "number"):
        raw = unicodedata.normalize("NFKC", raw)
    value = raw.strip()
    if not value:
        return None
    if widget == "number":
        digits = value.replace(",", "")
        if _WHOLE_NUMBER.fullmatch(digits):
            return int(digits)
    return value


def is_blank_row(row_specs: list[dict], row: Mapping[str, Any]) -> bool:
    """Nothing entered: no value but unticked boxes."""
    for spec in row_specs:
        value = row.get(spec["name"])
        if spec["widget"] == "checkbox":
            if value:
                return False
        elif value not in (None, "", []):
            return False
    return True


def row_indices(form: MultiDict, rows_name: str) -> list[int]:
    """The row indices posted for a rows field, in order (gaps are fine)."""
    prefix = rows_name + "."
    indices = set()
    for name in form.keys():
        if name.startswith(prefix):
            head = name[len(prefix):].split(".", 1)[0]
            if head.isdigit():
                indices.add(int(head))
    return sorted(indices)


def blank_rows(key: str, form: MultiDict) -> dict[str, int]:
    """How many empty rows were posted per rows field (a page re-render keeps them)."""
    counts = {}
    for spec in forms.field_specs(key):
        if spec["widget"] != "rows":
            continue
        rows = [_values(spec["fields"], form, f"{spec['name']}.{index}.")
                for index in row_indices(form, spec["name"])]
        counts[spec["name"]] = sum(is_blank_row(spec["fields"], row) for row in rows)
    return counts


def without_row(form: MultiDict, rows_name: str, index: int) -> MultiDict:
    """The form with one posted row taken out."""
    prefix = f"{rows_name}.{index}."
    return MultiDict([(name, value) for name, value in form.items(multi=True)
                      if not name.startswith(prefix)])


def errors_for(key: str, messages: Any) -> dict[str, list[str]]:
    """Validation messages by the HTML name of the field they belong to.

    Takes marshmallow's nested messages (``{"世帯員": {0: {"氏名": [...]}}}``) as well as
    the engine's flat ones (``{"世帯員.0.氏名": "必須項目です。"}``). A message about one
    choice of a multiselect belongs to the whole field; a row's own message to the row
    (``世帯員.0``); anything else, such as ``_schema``, to the form (``"_form"``).
    """
    specs = {spec["name"]: spec for spec in forms.field_specs(key)}
    result: dict[str, list[str]] = {}
    for path, texts in _flatten(messages, []):
        name = _owner(specs, path)
        result.setdefault(name, []).extend(t for t in texts if t not in result.get(name, []))
    return result


def _flatten(messages: Any, path: list[str]):
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            yield from _flatten(value, path + _key_path(key))
    elif isinstance(messages, (list, tuple)):
        texts = [str(m) for m in messages if not isinstance(m, (Mapping, list, tuple))]
        if texts:
            yield path, texts
        for item in messages:
            if isinstance(item, (Mapping, list, tuple)):
                yield from _flatten(item, path)
    elif messages is not None:
        yield path, [str(messages)]


def _key_path(key: Any) -> list[str]:
    """``世帯員（1行目）の氏名`` (the engine's words) and ``世帯員.0.氏名`` alike become
    ``["世帯員", "0", "氏名"]``; marshmallow's own keys are ints and names."""
    text = _ROW_IN_WORDS.sub(lambda m: f".{int(m.group(1)) - 1}.", str(key))
    return [part for part in text.split(".") if part != ""]


def _owner(specs: dict[str, dict], path: list[str]) -> str:
    if not path or path[0] not in specs:
        return FORM_ERRORS
    spec = specs[path[0]]
    if spec["widget"] != "rows" or len(path) < 2 or not path[1].isdigit():
        return path[0]
    row = f"{path[0]}.{path[1]}"
    inner = {s["name"]: s for s in spec["fields"]}
    if len(path) < 3 or path[2] not in inner:
        return row
    return f"{row}.{path[2]}"
