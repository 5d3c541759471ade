"""The base of every task and event form: Japanese messages, JapanDate, field helpers.

A form is a marshmallow schema whose field names are the Japanese field names used in task
data and BPMN expressions (so they must be Python identifiers). Each field carries rendering
hints in ``metadata``: ``label``, ``widget``, ``choices`` (select/multiselect) and ``example``,
a JSON-ready sample value (demo data and behaviour specs fill unnamed fields with it).

Loading gives task data: dates as ``datetime.date``, everything else JSON-native. Empty
values (``None``, ``""`` or blanks) count as not entered: a checkbox is then ``False``, a
multiselect or a list of rows ``[]`` and any other field ``None`` (or "必須項目です。").
``schema.dump(loaded)`` turns loaded data back into JSON-ready values.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, ClassVar

from marshmallow import Schema, fields, pre_load, validate
from marshmallow.fields import Field

from engine.clock import LOCAL_TZ, today

REQUIRED = "必須項目です。"
NOT_A_CHOICE = "選択肢から選んでください。"
INVALID_DATE = "日付の形式が正しくありません（例: 2025-04-07）。"
UNKNOWN_FIELD = "この項目はフォームにありません。"
INVALID_FORM = "入力の形式が正しくありません。"
NOT_IN_FUTURE = "{label}は今日より後の日付にしてください。"
TOO_LONG = "{max}文字以内で入力してください。"

WIDGETS = frozenset(
    {"text", "textarea", "date", "select", "multiselect", "checkbox", "number", "rows", "agencies"}
)

# Japanese defaults for the messages marshmallow's own field classes raise. They replace
# marshmallow's English defaults only; a message given with ``error_messages=`` stays.
FIELD_MESSAGES: dict[type[Field], dict[str, str]] = {
    fields.Field: {
        "required": REQUIRED,
        "null": REQUIRED,
        "validator_failed": "入力内容が正しくありません。",
    },
    fields.String: {"invalid": "文字で入力してください。", "invalid_utf8": "文字で入力してください。"},
    fields.Number: {"invalid": "数値で入力してください。", "too_large": "数値が大きすぎます。"},
    fields.Integer: {"invalid": "整数で入力してください。"},
    fields.Boolean: {"invalid": "「はい」か「いいえ」で入力してください。"},
    fields.Date: {"invalid": INVALID_DATE, "format": INVALID_DATE, "invalid_awareness": INVALID_DATE},
    fields.List: {"invalid": "一覧（リスト）で入力してください。"},
    fields.Nested: {"type": INVALID_FORM},
}


def _english_defaults(field: Field) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for cls in reversed(type(field).__mro__):
        messages.update(getattr(cls, "default_error_messages", {}))
    return messages


def _japanese(field: Field) -> None:
    """Swap marshmallow's English default messages of a bound field (and its inner fields)."""
    english = _english_defaults(field)
    messages = dict(field.error_messages)  # fields are shallow copies: never mutate in place
    japanese: dict[str, str] = {}
    for cls in reversed(type(field).__mro__):
        japanese.update(FIELD_MESSAGES.get(cls, {}))
    for key, text in japanese.items():
        if key in messages and messages[key] == english.get(key):
            messages[key] = text
    field.error_messages = messages
    validators = []
    for validator in field.validators:
        if isinstance(validator, validate.OneOf) and validator.error == validate.OneOf.default_message:
            validator = validate.OneOf(validator.choices, validator.labels, error=NOT_A_CHOICE)
        validators.append(validator)
    field.validators = validators
    if isinstance(field, fields.List):
        _japanese(field.inner)
    elif isinstance(field, fields.Tuple):
        for inner in field.tuple_fields:
            _japanese(inner)
    elif isinstance(field, fields.Dict) and field.value_field is not None:
        _japanese(field.value_field)


class JapanDate(fields.Date):
    """A date; a datetime (or a string with a time part) is read in Japan time first.

    ``2025-06-12T23:30:00+00:00`` loads as 2025-06-13. A time without an offset is taken
    to be Japan time already.
    """

    default_error_messages = {"invalid": INVALID_DATE, "format": INVALID_DATE}

    def _deserialize(self, value, attr, data, **kwargs) -> dt.date:
        if isinstance(value, dt.datetime):
            return _japan_date(value)
        if isinstance(value, dt.date):
            return value
        if not isinstance(value, str):
            raise self.make_error("invalid")
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return _japan_date(dt.datetime.fromisoformat(text))
        except ValueError as exc:
            raise self.make_error("invalid") from exc


def _japan_date(moment: dt.datetime) -> dt.date:
    if moment.tzinfo is None:
        return moment.date()
    return moment.astimezone(LOCAL_TZ).date()


SCOPES = ["基本情報", "介護", "障害", "医療", "家計", "支援経過"]  # 情報範囲 (domain §3)


@dataclass(frozen=True)
class Person:
    """Which fields of a form (or of one of its rows) describe a household member.

    Values name fields; ``relation_value`` fixes the 続柄 instead (本人 on the intake form).
    ``flags`` are fields kept on the member (ヤングケアラー, 要介護度 …) when filled in.
    """

    name: str
    kana: str | None = None
    relation: str | None = None
    relation_value: str | None = None
    birth_date: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ConsentFields:
    """A form that records a 情報共有同意書 when ``given`` holds one of ``given_values``."""

    given: str
    given_values: tuple[str, ...]
    member: str | None = None  # who consents for whom (対象者); empty: 本人
    consenter: str | None = None
    proxy_relation: str | None = None
    explainer: str | None = None
    date: str | None = None
    agencies: str | None = None
    scopes: str | None = None
    purpose: str | None = None
    valid_until: str | None = None


@dataclass(frozen=True)
class WithdrawalFields:
    """A form that withdraws consent (同意撤回): of ``member``, or of everyone if empty."""

    date: str
    member: str | None = None


@dataclass(frozen=True)
class AttendeeFields:
    """The fields of a meeting's attendee rows: a name and an affiliation; ``user`` names a
    registered user (who then acknowledges the duty of confidentiality themselves), and
    ``acknowledged`` is ticked for an attendee without an account."""

    name: str = "氏名"
    affiliation: str = "所属"
    user: str = "利用者"
    acknowledged: str = "守秘義務確認"


@dataclass(frozen=True)
class MeetingFields:
    """A form that records a meeting; ``basis`` is the legal basis, not a display name.

    ``when`` names a checkbox that must be ticked for the form to record one (受理判断's
    WG会議). ``link`` names a field holding an existing meeting's number, so one meeting can
    discuss several cases.
    """

    basis: str  # a key of MEETING_BASES
    date: str
    timing: str | None = None
    attendees: str | None = None  # a rows field, its rows' fields named by ``attendee``
    attendee: AttendeeFields = AttendeeFields()
    agencies: str | None = None   # a multiselect of attending agencies
    minutes: tuple[str, ...] = ()
    agreements: str | None = None
    next_date: str | None = None
    local_name: str | None = None
    link: str | None = None
    when: str | None = None


# Meeting types by legal basis (domain §1): あわら市 calls its 106条の6 meeting 支援調整会議,
# while 自立相談支援 uses that name for another meeting, so the name is never the type.
MEETING_BASES = {
    "support_meeting": "支援会議（社会福祉法第106条の6）",
    "jusou_meeting": "重層的支援会議",
    "wg_meeting": "WG会議",
}


class FormSchema(Schema):
    """Base of all forms and of their repeating rows.

    ``form_key`` is the ``camunda:formKey`` of the user task (or the case event name);
    rows leave it ``None``. ``title`` names the paper form for the UI.

    What a kept record means is declared here too, never in the engine: ``principal``
    (the form describes 本人), ``members`` (rows field → the member each row describes),
    ``concerns`` (a field naming the member the record is about), ``scope`` (the 情報範囲
    of fields without their own ``scope`` metadata), ``consent``, ``withdrawal``,
    ``meeting`` and ``plan`` (the form is a version of the case's support plan).
    """

    form_key: ClassVar[str | None] = None
    title: ClassVar[str] = ""
    principal: ClassVar[Person | None] = None
    members: ClassVar[dict[str, Person]] = {}
    concerns: ClassVar[str | None] = None
    scope: ClassVar[str] = "支援経過"
    consent: ClassVar[ConsentFields | None] = None
    withdrawal: ClassVar[WithdrawalFields | None] = None
    meeting: ClassVar[MeetingFields | None] = None
    plan: ClassVar[bool] = False

    error_messages = {"type": INVALID_FORM, "unknown": UNKNOWN_FIELD}

    def on_bind_field(self, field_name: str, field_obj: Field) -> None:
        _japanese(field_obj)

    @pre_load
    def _empty_is_missing(self, data, **kwargs):
        """Blank strings count as not entered; defaults then apply (False, [] or None)."""
        if not isinstance(data, dict):
            return data
        cleaned = {}
        for key, value in data.items():
            if isinstance(value, str) and not value.strip():
                value = None
            field = self.load_fields.get(key)
            if value is None and field is not None and not field.required:
                if field.load_default is not None:
                    continue  # a checkbox, multiselect or rows field: use its default
            cleaned[key] = value
        return cleaned


def future_date_error(label: str) -> str:
    return NOT_IN_FUTURE.format(label=label)


def is_after_today(value: dt.date | None) -> bool:
    return value is not None and value > today()


# ---- field helpers: one per widget -------------------------------------------------------


def _presence(required: bool, empty: Any = None) -> dict[str, Any]:
    if required:
        return {"required": True}
    return {"load_default": empty, "allow_none": True}


def _meta(label: str, widget: str, example: Any, choices: list[str] | None = None,
          scope: str | None = None) -> dict:
    meta: dict[str, Any] = {"label": label, "widget": widget, "example": example}
    if choices is not None:
        meta["choices"] = list(choices)
    if scope is not None:
        assert scope in SCOPES, scope
        meta["scope"] = scope
    return meta


def text(label: str, example: str, *, required: bool = False, long: bool = False,
         scope: str | None = None, max_length: int | None = None) -> fields.String:
    """A free text; ``long`` renders it as a textarea. References (担当機関 etc.) too, for now.

    ``max_length``: a text the engine also keeps in a column of its own (a member's 氏名, a
    consent's 説明者) must fit that column; tests/test_column_lengths.py checks each one."""
    widget = "textarea" if long else "text"
    validators = [validate.Length(max=max_length, error=TOO_LONG)] if max_length else []
    return fields.String(validate=validators, metadata=_meta(label, widget, example, scope=scope),
                         **_presence(required))


def date(label: str, example: str, *, required: bool = False, scope: str | None = None) -> JapanDate:
    return JapanDate(metadata=_meta(label, "date", example, scope=scope), **_presence(required))


def select(label: str, choices: list[str], example: str, *, required: bool = False,
           scope: str | None = None) -> fields.String:
    return fields.String(
        validate=validate.OneOf(choices, error=NOT_A_CHOICE),
        metadata=_meta(label, "select", example, choices, scope=scope),
        **_presence(required),
    )


def multiselect(
    label: str, choices: list[str], example: list[str], *, required: bool = False,
    scope: str | None = None,
) -> fields.List:
    """A list of choices; when optional and left empty it loads as ``[]``."""
    return fields.List(
        fields.String(validate=validate.OneOf(choices, error=NOT_A_CHOICE)),
        metadata=_meta(label, "multiselect", example, choices, scope=scope),
        **_presence(required, empty=list),
    )


def agencies(label: str, example: list[str], *, scope: str | None = None) -> fields.List:
    """Agencies from the municipality's register (its choices are the register's, so the
    engine checks them when the form is kept)."""
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=200)),
        metadata=_meta(label, "agencies", example, scope=scope),
        **_presence(False, empty=list),
    )


YES_WORDS = frozenset({"はい"})
NO_WORDS = frozenset({"いいえ"})


def checkbox(label: str, example: bool, *, scope: str | None = None) -> fields.Boolean:
    """A yes/no box; unticked (absent or empty) loads as ``False``.

    Besides JSON booleans (and marshmallow's "true"/"false" texts) it takes the labels a
    person sees: はい and いいえ.
    """
    return fields.Boolean(metadata=_meta(label, "checkbox", example, scope=scope),
                          load_default=False, truthy=fields.Boolean.truthy | YES_WORDS,
                          falsy=fields.Boolean.falsy | NO_WORDS)


def number(label: str, example: int, *, required: bool = False, minimum: int = 0,
           scope: str | None = None) -> fields.Integer:
    return fields.Integer(
        validate=validate.Range(min=minimum, error=f"{minimum}以上の数を入力してください。"),
        metadata=_meta(label, "number", example, scope=scope),
        **_presence(required),
    )


def rows(label: str, row: type[FormSchema], example: list[dict] | None = None) -> fields.List:
    """Repeating rows (optional, ``[]`` when empty); the example defaults to one sample row."""
    if example is None:
        example = [row_example(row)]
    return fields.List(
        fields.Nested(row),
        metadata=_meta(label, "rows", example),
        **_presence(False, empty=list),
    )


def row_example(schema: type[FormSchema]) -> dict[str, Any]:
    return {name: field.metadata["example"] for name, field in schema._declared_fields.items()}


# Agencies of the pathway (domain §2), offered where a form lists several of them.
# A municipality's own list will replace this once agencies are reference data.
AGENCIES = [
    "地域包括支援センター",
    "基幹相談支援センター",
    "相談支援事業所",
    "子育て世代包括支援センター",
    "自立相談支援機関",
    "福祉まるごと相談室",
    "社会福祉協議会",
    "参加支援事業者",
    "アウトリーチ支援事業者",
    "市福祉課",
    "民生委員",
    "その他",
]
# The fields of the 包括的相談支援 (あわら市 実施計画 第4章: 包括化推進員 come from 高齢, 介護,
# 障害, 子ども and 生活困窮); その他 for a consultation received outside them (社協, say).
FIELDS_OF_SUPPORT = ["高齢", "介護", "障害", "子ども", "生活困窮", "その他"]
# What an agency shares about a person (情報共有同意書の情報範囲, 連携シートの共有した情報).
