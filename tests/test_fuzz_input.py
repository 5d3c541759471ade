"""Grammar-based fuzzing of what callers send: the CLI's --data text and every form's fields.
Whatever comes in ends in a value or in the engine's InvalidInput — never another exception."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import forms
from engine.cli import parse_data
from engine.errors import InvalidInput
from forms.validation import validate_form

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(["はい", "いいえ", "", " ", "2025-04-07",
                                                           "2025-13-45", "９", "P3M", "\ud800"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20)


def _field_values(key: str):
    """A form's field names (and a few strangers) mapped to any JSON-ish value."""
    names = [spec["name"] for spec in forms.field_specs(key)] + ["存在しない項目", "_x"]
    return st.dictionaries(st.sampled_from(names), json_values, max_size=len(names))


@SETTINGS
@given(st.one_of(st.text(max_size=200), json_values.map(lambda v: json.dumps(v, ensure_ascii=False)),
                 st.integers(min_value=1, max_value=60).map(lambda n: "[" * n + "]" * n)))
def test_cli_data_text_ends_in_an_object_or_invalid_input(text):
    try:
        result = parse_data(text)
    except InvalidInput as exc:
        assert exc.message
    else:
        assert isinstance(result, dict)


@SETTINGS
@given(st.sampled_from(sorted(forms.FORMS)).flatmap(lambda key: st.tuples(st.just(key), _field_values(key))))
def test_form_fields_end_in_task_data_or_field_messages(case):
    key, data = case
    try:
        values = validate_form(key, data)
    except InvalidInput as exc:
        assert exc.message and all(isinstance(v, str) and v for v in exc.fields.values())
    else:
        assert set(values) <= {spec["name"] for spec in forms.field_specs(key)}
