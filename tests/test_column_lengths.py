"""Every text column of the store that a person's input or a model's text reaches is
guarded against values longer than itself, so that PostgreSQL never refuses one with a
traceback while SQLite keeps it: the forms declare a maximum length for the fields the
engine keeps in a column, the engine refuses names given to it, and lint refuses model
text. A new String column fails here until it says how it is guarded."""
from __future__ import annotations

import pytest
from marshmallow import fields, validate
from sqlalchemy import String, Text

import forms
from engine import households, modelcheck
from engine.errors import InvalidInput
from engine.store import Base

TABLES = Base.metadata.tables


def column(name: str):
    table, col = name.split(".")
    return TABLES[table].c[col]


def length(name: str) -> int:
    return column(name).type.length


# Where what the forms declare lands: (declaration, attribute) -> column.
PERSON = {"name": "members.name", "kana": "members.kana", "relation": "members.relation"}
CONSENT = {"member": "members.name", "consenter": "consents.consenter",
           "proxy_relation": "consents.proxy_relation", "explainer": "consents.explainer"}
MEETING = {"local_name": "meetings.local_name"}
ATTENDEE_ROW = {"氏名": "meeting_attendees.name", "所属": "meeting_attendees.affiliation",
                "利用者": "users.name"}  # engine.meetings reads these fields of an attendee row
FROM_FORMS = {*PERSON.values(), *CONSENT.values(), *MEETING.values(), *ATTENDEE_ROW.values()}

# Made by the engine from form values, within their column by construction (checked below).
DERIVED = {"members.search_name", "members.search_kana", "consents.scope_list", "meetings.timing",
           "meetings.basis"}

# Names a caller gives the engine (kasane users add / agency add / agency kinds --add).
GIVEN_NAMES = {"users.name", "agencies.name", "agency_kinds.name"}
# Copies of a user's or an agency's name: as long as the original at least.
COPIES = {
    "audit_log.actor": "users.name", "audit_log.actor_agency": "agencies.name",
    "agencies.kind": "agency_kinds.name", "cases.opened_by": "users.name",
    "case_history.actor": "users.name", "case_migrations.actor": "users.name",
    "deployments.deployed_by": "users.name", "human_tasks.claimed_by": "users.name",
    "human_tasks.closed_by": "users.name", "meetings.convener": "users.name",
    "model_drafts.saved_by": "users.name", "records.actor": "users.name",
}

# Model text, refused by lint (engine.modelcheck) when longer than the column named here.
MODEL_TEXT = {
    "deployments.pathway": "プロセス ID", "deployments.name": "プロセス名",
    "model_drafts.pathway": "プロセス ID", "cases.pathway": "プロセス ID",
    "case_steps.process_id": "プロセス ID", "case_steps.spec_id": "要素の ID",
    "case_steps.previous_spec_id": "要素の ID", "human_tasks.spec_id": "要素の ID",
    "case_agencies.element": "要素の ID", "records.element": "要素の ID",
    "incidents.element": "要素の ID", "human_tasks.name": "要素の名前",
    "case_history.name": "要素の名前", "records.name": "メッセージ名",
    "human_tasks.form_key": "フォームキー", "records.form_key": "フォームキー",
    "human_tasks.role": "レーン（役割）の名前", "human_tasks.stage": "段階 (stage)",
    "cases.stage": "段階 (stage)", "cases.status": "状態 (status)",
    "human_tasks.assigned_to": "担当できる機関の種別 (assignTo)",
    "human_tasks.reads": "読めるケースのデータ (reads)",
    # referTo: checked kind by kind and all kinds together (modelcheck.check_stored_text)
    "case_agencies.agency_kind": None, "cases.referred_kinds": None,
}

# The engine's own words and codes, cut to the column where they come from outside
# (audit_log.detail, audit_log.origin).
INTERNAL = {
    "audit_log.channel", "audit_log.origin", "audit_log.action", "audit_log.basis",
    "audit_log.detail", "deployments.content_hash", "cases.serializer_version",
    "users.password_hash", "case_agencies.basis", "case_history.kind", "case_history.task_id",
    "case_steps.state", "human_tasks.id", "human_tasks.state", "drafts.task_id",
    "member_grams.gram", "records.kind", "records.task_id",
}


def string_columns() -> set[str]:
    return {f"{table.name}.{col.name}" for table in Base.metadata.sorted_tables
            for col in table.columns if isinstance(col.type, String) and not isinstance(col.type, Text)}


def test_every_text_column_says_how_it_is_guarded():
    groups = [FROM_FORMS, DERIVED, GIVEN_NAMES, set(COPIES), set(MODEL_TEXT), INTERNAL]
    named = [name for group in groups for name in group]
    assert string_columns() == set(named)
    doubled = {name for name in named if named.count(name) > 1} - {"users.name"}  # 利用者 looks one up
    assert doubled == set()


def _fits(field, allowed: int) -> bool:
    """A text field with a maximum length, or a choice among values, within ``allowed``."""
    for validator in field.validators:
        if isinstance(validator, validate.Length) and validator.max is not None:
            return validator.max <= allowed
        if isinstance(validator, validate.OneOf):
            return all(len(choice) <= allowed for choice in validator.choices)
    return False


def _form_fields():
    """(form, field, column) for every form field whose value the engine keeps in a column."""
    for key, form in forms.FORMS.items():
        own = form._declared_fields
        if form.principal is not None:
            for attribute, target in PERSON.items():
                if getattr(form.principal, attribute):
                    yield key, own[getattr(form.principal, attribute)], target
        for rows_field, person in (form.members or {}).items():
            row = own[rows_field].inner.nested._declared_fields
            for attribute, target in PERSON.items():
                if getattr(person, attribute):
                    yield f"{key}.{rows_field}", row[getattr(person, attribute)], target
        if form.concerns:
            yield key, own[form.concerns], "members.name"
        if form.consent is not None:
            for attribute, target in CONSENT.items():
                if getattr(form.consent, attribute):
                    yield key, own[getattr(form.consent, attribute)], target
        if form.meeting is not None:
            if form.meeting.local_name:
                yield key, own[form.meeting.local_name], "meetings.local_name"
            if form.meeting.attendees:
                row = own[form.meeting.attendees].inner.nested._declared_fields
                for name, target in ATTENDEE_ROW.items():
                    yield f"{key}.{form.meeting.attendees}", row[name], target


FORM_FIELDS = list(_form_fields())


def test_the_form_fields_walk_reaches_every_column_forms_write():
    assert {target for _, _, target in FORM_FIELDS} == FROM_FORMS


@pytest.mark.parametrize(("form", "field", "target"), FORM_FIELDS,
                         ids=[f"{f}.{fd.name}" for f, fd, _ in FORM_FIELDS])
def test_form_fields_kept_in_a_column_declare_a_length_that_fits(form, field, target):
    assert isinstance(field, fields.String), (form, field.name)
    assert _fits(field, length(target)), f"{form} の {field.name} は {target} ({length(target)}) に収まりません"


def test_a_too_long_value_gets_the_japanese_message():
    with pytest.raises(InvalidInput) as refused:
        from forms.validation import validate_form
        validate_form("同意確認", {**forms.example_values("同意確認"), "代理人続柄": "続" * 51})
    assert refused.value.fields == {"代理人続柄": "50文字以内で入力してください。"}


def test_values_the_engine_derives_fit_their_columns():
    longest = max(len(k) for k in forms.MEETING_BASES)
    assert longest <= length("meetings.basis")
    timings = [f.meeting.timing for f in forms.FORMS.values() if f.meeting and f.meeting.timing]
    assert timings and max(map(len, timings)) <= length("meetings.timing")
    assert len(",".join(["", *forms.SCOPES, ""])) <= length("consents.scope_list")  # each once
    widest = "㍿" * length("members.name")  # NFKC: 株式会社, four characters each
    assert len(households.normalise(widest)) == length("members.search_name") == length("members.search_kana")


def test_copies_of_names_are_as_long_as_the_names():
    for copy, original in COPIES.items():
        assert length(copy) >= length(original), copy


def test_model_text_columns_are_as_long_as_what_lint_allows():
    checked = {what: col.type.length for what, _, _, col in modelcheck._STORED_TEXT}
    for name, what in MODEL_TEXT.items():
        if what is not None:
            assert length(name) >= checked[what], name


@pytest.mark.parametrize(("call", "allowed"), [
    (lambda api, n: api.add_user("u" * n, ["管理者"]), "users.name"),
    (lambda api, n: api.add_agency("a" * n, "市福祉課"), "agencies.name"),
    (lambda api, n: api.add_agency_kind("k" * n), "agency_kinds.name"),
])
def test_names_given_to_the_engine_are_refused_past_their_column(kasane, call, allowed):
    with pytest.raises(InvalidInput, match=f"{length(allowed)}文字以内"):
        call(kasane, length(allowed) + 1)
    call(kasane, length(allowed))  # the longest name fits, on either database


def test_every_id_column_is_the_integer_parse_id_checks_against():
    """store.parse_id answers "no such row" past MAX_ID; a BIGINT id column would need more."""
    from sqlalchemy import BigInteger, Integer

    from engine.store import MAX_ID, parse_id
    ids = [col for table in Base.metadata.sorted_tables for col in table.columns
           if col.name == "id" or col.name.endswith("_id") or col.name in ("version", "based_on")]
    numbers = [col for col in ids if isinstance(col.type, Integer)]
    assert numbers and not any(isinstance(col.type, BigInteger) for col in numbers)
    assert MAX_ID == 2**31 - 1
    assert [parse_id(v) for v in (MAX_ID, str(MAX_ID), MAX_ID + 1, "0", "-1", "１", " 7 ", True, 2.0)] == \
        [MAX_ID, MAX_ID, None, None, None, None, 7, None, None]
