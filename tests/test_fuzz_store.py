"""Fuzzing what callers send all the way into the database (the one the run uses, SQLite or
PostgreSQL): generated JSON opens cases and completes tasks through the engine API. Each
call ends in a result or in InvalidInput, never in another exception, never in a failure
blamed on the model, and a refused call stores nothing."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

import forms
from engine import clock
from engine.errors import InvalidInput, ModelFailure
from engine.store import Case, Record
from tests.conftest import ROOT

# Few examples: each one writes to the database; the parsing fuzz (test_fuzz_input) runs many.
SETTINGS = settings(max_examples=40, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

FLAT = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  id="defs" targetNamespace="http://kasane.example/fuzz">
  <bpmn:process id="fuzz" name="入力の試験" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane" name="包括化推進員">
      <bpmn:flowNodeRef>note</bpmn:flowNodeRef><bpmn:flowNodeRef>check</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="note"/>
    <bpmn:userTask id="note" name="記録"/>
    <bpmn:sequenceFlow id="f2" sourceRef="note" targetRef="check"/>
    <bpmn:userTask id="check" name="確認"/>
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>
"""

# What JSON text can carry and a database may not keep: NaN, infinity, integers past
# max_int_bits, lone surrogates, nesting; beside ordinary values of every kind.
awkward = st.sampled_from([float("nan"), float("inf"), -float("inf"), 10 ** 1300, -(2 ** 5000),
                           "\ud800", "a\x00b", "", " ", "重 花子" * 300, 2 ** 31, 2 ** 63, -0.0,
                           1e308, "P3D", "2025-13-45"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                    st.text(max_size=20), awkward)
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12)
keys = st.one_of(st.sampled_from(["氏名", "メモ", "x", "_x", "1x", "a b", "", "\ud800", "終了"]),
                 st.text(max_size=8))
payloads = st.dictionaries(keys, values, max_size=5)


# Text a person could paste into a name: what PostgreSQL keeps in no column (NUL), what
# cannot be encoded, what is one past a column or widens under NFKC.
awkward_text = st.sampled_from(["a\x00b", "\ud800", "長" * 201, "㍿" * 200, "\u3000", "ｶﾀｶﾅ", "\t"])


def form_payloads(key: str):
    """A form's example with a few fields changed: often a field the engine keeps in a
    column of its own (本人's 氏名, ふりがな) set to awkward text, else any field to any
    value (most of those end in InvalidInput from the form)."""
    form = forms.get_form(key)
    kept = [name for name in (form.principal.name, form.principal.kana) if name]
    names = [spec["name"] for spec in forms.field_specs(key)] + ["存在しない項目"]
    return (st.dictionaries(st.sampled_from(kept), awkward_text | st.text(max_size=30), min_size=1,
                            max_size=2)
            | st.dictionaries(st.sampled_from(names), values, max_size=3))


@pytest.fixture
def flat(kasane, tmp_path):
    clock.set_now("2025-04-07")
    (tmp_path / "fuzz.bpmn").write_text(FLAT, encoding="utf-8")
    kasane.deploy([tmp_path / "fuzz.bpmn"])
    kasane.deploy([ROOT / "workflows"])
    kasane.add_user("yamada", ["包括化推進員"])
    return kasane


def _stored(kasane) -> tuple[int, int]:
    with kasane.reading() as session:
        return (session.scalar(select(func.count()).select_from(Case)),
                session.scalar(select(func.count()).select_from(Record)))


def _ends_well(call, kasane):
    """The call's result, or None when it was refused as bad input with nothing stored."""
    before = _stored(kasane)
    try:
        return call()
    except ModelFailure as exc:  # a subclass of InvalidInput: the caller's data is not the model's fault
        pytest.fail(f"blamed on the model: {exc.to_dict()}")
    except InvalidInput as exc:
        assert exc.message and json.dumps(exc.to_dict(), ensure_ascii=False)
        assert _stored(kasane) == before
        return None


@SETTINGS
@given(opening=payloads, completing=payloads)
def test_generated_data_opens_and_completes_flat_tasks_or_is_invalid_input(flat, opening, completing):
    opened = _ends_well(lambda: flat.open_case("fuzz", "yamada", opening), flat)
    if opened is None:
        opened = flat.open_case("fuzz", "yamada", {})
    task = opened["tasks"][0]["task_id"]
    done = _ends_well(lambda: flat.complete_task(task, "yamada", completing), flat)
    if done is not None:
        assert [t["name"] for t in done["tasks"]] == ["確認"]
        assert json.dumps(flat.show_case(opened["case_id"]), ensure_ascii=False, allow_nan=False)


@SETTINGS
@given(form_payloads("相談受付"))
def test_generated_form_data_runs_the_pathway_or_is_invalid_input(flat, data):
    """The intake form's fields with any values, through the form, the pathway's gateways
    and into the records, members and history of a real case."""
    key = "相談受付"
    opened = flat.open_case("jusou", "yamada")
    task = opened["tasks"][0]
    assert task["form"] == key
    done = _ends_well(lambda: flat.complete_task(task["task_id"], "yamada",
                                                 {**forms.example_values(key), **data}), flat)
    if done is not None:
        shown = flat.show_case(opened["case_id"])
        assert shown["records"] and json.dumps(shown, ensure_ascii=False, allow_nan=False)
