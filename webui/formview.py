"""What a task form's template needs, built from the form's metadata (``forms.field_specs``).

``build(key, values, errors)`` gives a :class:`Form`: one :class:`Field` per field with its
HTML name and id, control, current value and messages; the templates in
``templates/forms/`` only render it. ``values`` is JSON-shaped task data (what
``formdata.from_form`` returns, the examples, or a task's saved data); ``errors`` is what
``formdata.errors_for`` returns.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import forms
from webui.formdata import FORM_ERRORS, MULTIPLE, field_id

# A required choice among this many or fewer is offered as radio buttons, else a select.
RADIO_MAX = 4


@dataclass
class Field:
    name: str
    label: str
    widget: str
    control: str  # text, textarea, date, number, select, radio, checkboxes, checkbox, rows
    required: bool
    value: Any = ""
    choices: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    row_specs: list[dict] = field(default_factory=list)
    input_type: str = "text"
    autofocus: bool = False
    focus_add: bool = False  # a rows field: focus its 行を追加 button (after a removal)

    @property
    def id(self) -> str:
        return field_id(self.name)

    @property
    def error_id(self) -> str:
        return self.id + "-error"

    @property
    def container_id(self) -> str:
        return "rows-" + self.name


@dataclass
class Row:
    rows_name: str
    index: int
    number: int  # 1-based position shown to people
    fields: list[Field]
    errors: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.rows_name}.{self.index}"

    @property
    def id(self) -> str:
        return field_id(self.name)


@dataclass
class Form:
    key: str
    title: str
    fields: list[Field]
    errors: list[str]  # messages about the form as a whole
    summary: list[tuple[str, str, str]]  # (where, message, anchor id) for the error summary


def build(key: str, values: dict | None = None, errors: dict[str, list[str]] | None = None,
          blank_rows: dict[str, int] | None = None, default_blank_rows: int = 1,
          focus: tuple[str, str] | None = None, agencies: list[str] = ()) -> Form:
    """The form model. ``blank_rows`` says how many empty rows follow the filled ones of
    each rows field (``default_blank_rows`` where it says nothing). ``focus`` is
    ``("add", rows field)`` to focus that field's first empty row (after 行を追加) or
    ``("remove", rows field)`` to focus its 行を追加 button (after この行を削除).
    ``agencies`` are the register's names, the choices of an agencies field."""
    values = values or {}
    errors = errors or {}
    blank_rows = blank_rows or {}
    schema = forms.get_form(key)
    fields = []
    for spec in forms.field_specs(key):
        if spec["widget"] == "rows":
            blank = blank_rows.get(spec["name"], default_blank_rows)
            item = _rows_field(spec, values.get(spec["name"]) or [], errors, blank,
                               focus=focus == ("add", spec["name"]))
            item.focus_add = focus == ("remove", spec["name"])
            fields.append(item)
        else:
            fields.append(_field(spec, spec["name"], values.get(spec["name"]), errors,
                                 agencies=agencies))
    summary = []
    for item in fields:
        summary += _summary(item, item.label)
    return Form(key=key, title=getattr(schema, "title", "") or key, fields=fields,
                errors=list(errors.get(FORM_ERRORS, [])), summary=summary)


def _field(spec: dict, name: str, value: Any, errors: dict, in_row: bool = False,
           agencies: list[str] = ()) -> Field:
    widget = spec["widget"]
    choices = list(spec.get("choices") or [])
    item = Field(name=name, label=spec["label"], widget=widget, control=widget,
                 required=spec["required"], choices=choices, errors=list(errors.get(name, [])))
    if widget == "checkbox":
        item.value = bool(value)
    elif widget in MULTIPLE:
        item.control = "checkboxes"
        if widget == "agencies":
            item.choices = list(agencies)
        item.value = [str(v) for v in value] if isinstance(value, list) else []
    else:
        item.value = _text(value)
        if widget == "select" and spec["required"] and len(choices) <= RADIO_MAX and not in_row:
            item.control = "radio"
        elif widget == "date":
            # A value a date input cannot show (typed elsewhere) stays visible as text.
            item.input_type = "date" if item.value == "" or _is_iso_date(item.value) else "text"
    return item


def _rows_field(spec: dict, rows: list, errors: dict, blank: int, focus: bool) -> Field:
    item = Field(name=spec["name"], label=spec["label"], widget="rows", control="rows",
                 required=spec["required"], errors=list(errors.get(spec["name"], [])),
                 row_specs=spec["fields"])
    for index, values in enumerate(rows):
        item.rows.append(_row(spec, index, index + 1, values if isinstance(values, dict) else {},
                              errors))
    for offset in range(blank):
        index = len(rows) + offset
        item.rows.append(_row(spec, index, index + 1, {}, errors))
        if focus and offset == 0 and item.rows[-1].fields:
            item.rows[-1].fields[0].autofocus = True
    return item


def _row(spec: dict, index: int, number: int, values: dict, errors: dict) -> Row:
    prefix = f"{spec['name']}.{index}"
    fields = [_field(inner, f"{prefix}.{inner['name']}", values.get(inner["name"]), errors,
                     in_row=True) for inner in spec["fields"]]
    return Row(rows_name=spec["name"], index=index, number=number, fields=fields,
               errors=list(errors.get(prefix, [])))


def _summary(item: Field, where: str) -> list[tuple[str, str, str]]:
    entries = [(where, message, item.id if item.control != "rows" else item.container_id)
               for message in item.errors]
    for row in item.rows:
        row_where = f"{item.label} {row.number}行目"
        entries += [(row_where, message, row.id) for message in row.errors]
        for inner in row.fields:
            entries += [(f"{row_where} {inner.label}", message, inner.id)
                        for message in inner.errors]
    return entries


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _is_iso_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10
