"""What the case pages show, read from what the engine returned (``show_case``,
``show_record``, ``show_meeting``): values under their form labels, plan versions, timers
and flags in plain Japanese. No access rule here: a partial view simply has less in it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import forms
from engine.access import WHOLE_CASE_BASES
from webui.filters import jdate

STATUS = {"open": "進行中", "closed": "終結", "suspended": "中断"}
RECORD_KINDS = {"task": "タスク", "event": "ケースイベント"}
NOT_ENTERED = "未入力"


@dataclass
class Value:
    """One submitted field: its label and either a text or, for rows, a table."""
    label: str
    text: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.text == NOT_ENTERED and not self.rows


def labelled(form_key: str | None, values: dict | None) -> list[Value]:
    """A record's values in its form's order under the form's labels; rows as tables.
    Keys the form does not (or no longer) have come last, under their own names."""
    values = values or {}
    specs = {s["name"]: s for s in forms.field_specs(form_key)} \
        if form_key and forms.get_form(form_key) else {}
    names = [n for n in specs if n in values] + [n for n in values if n not in specs]
    shown = []
    for name in names:
        spec = specs.get(name, {"label": name, "widget": None})
        value = values[name]
        if spec["widget"] == "rows" or (spec["widget"] is None and _is_rows(value)):
            shown.append(_table(spec, value or []))
        else:
            shown.append(Value(spec["label"], text=as_text(value, spec["widget"])))
    return shown


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _table(spec: dict, rows: list) -> Value:
    inner = {s["name"]: s for s in spec.get("fields", [])}
    rows = [row for row in rows if isinstance(row, dict)]
    present = [n for n in inner if any(n in row for row in rows)]
    present += [n for row in rows for n in row if n not in inner and n not in present]
    columns = [inner[n]["label"] if n in inner else n for n in present]
    cells = [[as_text(row.get(n), inner[n]["widget"] if n in inner else None) for n in present]
             for row in rows]
    return Value(spec["label"], text="" if cells else NOT_ENTERED, columns=columns, rows=cells)


def as_text(value: Any, widget: str | None = None) -> str:
    """A value as people read it: dates in the Japanese way, ticks as はい/いいえ."""
    if isinstance(value, bool):
        return "はい" if value else "いいえ"
    if value in (None, "", []):
        return "いいえ" if widget == "checkbox" else NOT_ENTERED
    if isinstance(value, list):
        return "、".join(as_text(v) for v in value)
    if widget == "date":
        return jdate(value)
    if isinstance(value, dict):
        return "、".join(f"{k}: {as_text(v)}" for k, v in value.items())
    return str(value)


def principal(view: dict) -> dict:
    """本人's 氏名 and ふりがな as far as the view shows them: from the household, else from
    the case data an open task reads (the outreach worker's visit needs the name)."""
    member = next((m for m in view["household"] if m.get("本人")), None)
    source = member if member is not None else view["data"]
    return {"氏名": source.get("氏名"), "ふりがな": source.get("ふりがな")}


def flag_texts(flags: dict) -> list[str]:
    """ヤングケアラー, 要介護度: 要介護2 …: a ticked flag by its name, others with their value."""
    return [name if value is True else f"{name}: {as_text(value)}" for name, value in flags.items()]


def timer_text(timer: dict) -> str:
    """「モニタリング期日: 2025年9月12日」."""
    return f"{timer['name']}: {jdate(timer['due'])}"


def plans(records: list[dict]) -> list[tuple[int, dict]]:
    """Every version of the plan (the records of forms that declare ``plan``), oldest
    first, numbered from 1."""
    def is_plan(record):
        form = forms.get_form(record["form"]) if record["form"] else None
        return bool(form and form.plan)
    return list(enumerate(filter(is_plan, records), start=1))


def timeline(records: list[dict]) -> list[dict]:
    """The kept records, newest first."""
    return sorted(records, key=lambda r: (r["at"], r["record_id"]), reverse=True)


def sees_whole_case(view: dict) -> bool:
    return view["access"] in WHOLE_CASE_BASES


def access_note(basis: str) -> str:
    """Why a partial view shows only part of the case."""
    if basis == "task":
        return "担当するタスクに必要な範囲だけを表示しています。"
    if basis.startswith("consent:"):
        return "情報共有同意書で共有された世帯員と情報範囲だけを表示しています。"
    return "閲覧できる範囲だけを表示しています。"
