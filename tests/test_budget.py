"""The budget model code runs on: settings, guards, storable data, errors that name the element."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from SpiffWorkflow.util.task import TaskState

from engine import limits, storable
from engine.deployments import build_pathway, parse_bundle, read_model_files
from engine.errors import InvalidInput
from engine.expressions import (ModelCodeError, UnsafeExpression, check_expression, evaluate,
                                execute, free_names)
from engine.limits import BudgetExceeded, LimitSettingError, Limits, from_environ
from engine.storable import NotStorable
from tests.conftest import MODELS, ROOT

# --- settings -------------------------------------------------------------------------------


def test_every_limit_has_a_default_and_an_environment_variable():
    defaults = Limits()
    assert defaults.max_iterations == 1_000_000 and defaults.max_items == 100_000
    assert defaults.max_int_bits == 4_096 and defaults.max_seconds == 2.0
    assert from_environ({}) == defaults
    changed = from_environ({"KASANE_LIMIT_MAX_ITERATIONS": "2_000_000",
                            "KASANE_LIMIT_MAX_SECONDS": "0.5", "PATH": "/bin"})
    assert changed.max_iterations == 2_000_000 and changed.max_seconds == 0.5
    assert changed.max_items == defaults.max_items


@pytest.mark.parametrize(("name", "value", "text"), [
    ("KASANE_LIMIT_MAX_ITERATIONS", "many", "正の整数ではありません"),
    ("KASANE_LIMIT_MAX_ITEMS", "-5", "正の整数ではありません"),
    ("KASANE_LIMIT_MAX_ITEMS", "0", "正の整数ではありません"),
    ("KASANE_LIMIT_MAX_ITEMS", "1.5", "正の整数ではありません"),
    ("KASANE_LIMIT_MAX_SECONDS", "nan", "正の数ではありません"),
    ("KASANE_LIMIT_MAX_ITERATION", "10", "不明な上限設定です"),
    ("KASANE_LIMIT_MAX_YEAR", "10000", "1〜9998"),
])
def test_an_invalid_setting_is_refused_with_its_name(name, value, text):
    with pytest.raises(LimitSettingError) as refused:
        from_environ({name: value})
    assert name in refused.value.message and text in refused.value.message
    assert isinstance(refused.value, InvalidInput)


def _cli(args, **env):
    result = subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)],
                            env={**os.environ, **env}, capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    return result.returncode, result.stdout, result.stderr


def test_the_cli_reads_the_settings_from_the_environment(tmp_path):
    model = tmp_path / "m.bpmn"
    model.write_text((MODELS / "sample.bpmn").read_text(encoding="utf-8"), encoding="utf-8")
    code, _, err = _cli(["lint", model], KASANE_LIMIT_MAX_ITEMS="lots")
    assert code == 1 and "KASANE_LIMIT_MAX_ITEMS" in json.loads(err)["error"]
    # A model fine under the defaults is refused once the limit is lowered.
    text = model.read_text(encoding="utf-8").replace(
        '<bpmn:sequenceFlow id="f_return" sourceRef="gw" targetRef="end_returned"/>',
        '<bpmn:sequenceFlow id="f_return" sourceRef="gw" targetRef="end_returned"/>'
        '<bpmn:sequenceFlow id="f_extra" sourceRef="gw" targetRef="end_returned">'
        "<bpmn:conditionExpression>len('x' * 50) &lt; 0</bpmn:conditionExpression>"
        "</bpmn:sequenceFlow>")
    model.write_text(text, encoding="utf-8")
    assert _cli(["lint", model])[0] == 0
    code, out, _ = _cli(["lint", model], KASANE_LIMIT_MAX_ITEMS="10")
    assert code == 1
    [problem] = json.loads(out)["problems"]
    assert problem["element"] == "f_extra" and "（10 要素）" in problem["message"]


def test_the_message_names_the_limit_and_how_to_change_it():
    exc = BudgetExceeded("max_iterations", allowed=1_000_000)
    assert str(exc) == ("反復回数が上限（1,000,000 回）を超えました。"
                        "上限は KASANE_LIMIT_MAX_ITERATIONS で変えられます")
    exc = BudgetExceeded("max_items", 10 ** 9, 100_000, "文字列の幅")
    assert exc.limit == "max_items" and exc.value == 10 ** 9 and exc.allowed == 100_000
    assert str(exc).startswith("文字列の幅: 作られる値の大きさが上限（100,000 要素）を超えました"
                               "（1,000,000,000 要素）")
    assert isinstance(exc, ValueError)


# --- the evaluator's guards ------------------------------------------------------------------

DATA = {"n": 10 ** 9, "k": 100_000, "s": "ab", "l": [1, 2, 3], "d": {"a": 1}}


@pytest.mark.parametrize(("source", "limit"), [
    ("sum([1 for i in range(k) for j in range(k)])", "max_iterations"),
    ("[x for x in [3] for i in range(40) for x in [x * x]]", "max_int_bits"),
    ("s.ljust(n)", "max_items"),
    ("s.center(n)", "max_items"),
    ("str.rjust(s, n)", "max_items"),
    ("('\\t' * 10).expandtabs(n)", "max_items"),
    ("'%*d' % (n, 1)", "max_items"),
    ("('%' + str(n) + 'd') % 1", "max_items"),
    ("'%(a)99999999s' % d", "max_items"),
    ("f'{s:>{n}}'", "max_items"),
    ("f'{1.5:.{n}f}'", "max_items"),
    ("f'{s:{n}}'", "max_items"),
    ("(s * 1000).replace('a', 'a' * 1000)", "max_items"),
    ("'-'.join([s * 50_000] * 10)", "max_items"),
    ("'aa'.translate({97: 'x' * k})", "max_items"),
    ("(1).to_bytes(n, 'big')", "max_items"),
    ("len(range(n))", "max_items"),
    ("max([n], key=s.ljust)", "max_items"),
    ("sorted([n], key=s.zfill)", "max_items"),
    ("len(list(zip(*[l * 10_000] * 10_000)))", "max_items"),
    ("len([*l * k, *l * k])", "max_items"),
    ("len({**dict.fromkeys(range(k)), **dict.fromkeys(range(k, 2 * k))})", "max_items"),
    ("len(['x' * k for i in range(k)])", "max_allocation"),
    ("len([s[i:] for s in ['x' * k] for i in range(k)])", "max_allocation"),
    ("len(sum([[1] * 1000] * 1000, []))", "max_allocation"),
    ("len(str([['x' * 1000] * 1000] * 10))", "max_items"),
    ("len(f'{[s * 1000] * 1000}')", "max_items"),
    ("10 ** 10 ** 10", "max_int_bits"),
    ("int('9' * 4000)", "max_int_bits"),
    ("int('9' * 5000)", "max_int_bits"),  # past Python's 4,300 digits: its English refusal
    ("int(b'1' * 5000)", "max_int_bits"),
    ("int('f' * 5000, 16)", "max_int_bits"),
    ("+".join(["1"] * 331), "max_depth"),
    ("-" * 3000 + "1", "max_depth"),
    ("[" * 150 + "]" * 150, "max_depth"),
    ("'" + "x" * 20_001 + "'", "max_source_length"),
])
def test_expressions_that_would_exhaust_a_worker_are_refused(source, limit):
    started = time.process_time()
    # The clock is the limit for whatever the others miss; here it must not be the one
    # that stops a loop first on a busy machine.
    with limits.override(max_seconds=60), pytest.raises(BudgetExceeded) as refused:
        evaluate(source, dict(DATA))
    assert refused.value.limit == limit
    assert time.process_time() - started < 3  # what is hostile stops early


@pytest.mark.parametrize(("script", "limit"), [
    ("c = 0\nfor i in range(k):\n    for j in range(k):\n        c += 1", "max_iterations"),
    ("x = 3\nfor i in range(40):\n    x *= x", "max_int_bits"),
    ("x = s\nfor i in range(40):\n    x = x + x", "max_items"),
    ("x = [1]\nfor i in range(40):\n    x += x", "max_items"),
    ("x = [1]\nfor i in range(40):\n    x.extend(x)", "max_items"),
    ("x = [1]\nfor i in range(40):\n    x[:0] = x", "max_items"),
    ("x = [1]\nfor i in range(40):\n    x = [*x, *x]", "max_items"),
    ("x = {1}\nfor i in range(k + 1):\n    x.add(i)", "max_items"),
    ("x = []\nfor i in range(k + 1):\n    x.append(i)", "max_items"),
    ("x = 'x' * k\ny = [x] * k", "max_state_bytes"),
    ("x = []\nfor i in range(10_000):\n    x = [x]", "max_data_depth"),
    ("x = []\nfor i in range(5_000):\n    x = [x]\ny = len(str(x))", "max_data_depth"),
])
def test_scripts_that_would_exhaust_a_worker_are_refused(script, limit):
    context = dict(DATA)
    with limits.override(max_seconds=60), pytest.raises(ValueError) as refused:
        execute(script, context)
    assert refused.value.limit == limit
    assert context == DATA  # nothing was written back


def test_the_clock_stops_a_loop_whose_steps_are_slow():
    script = ("a = ['x' * 50_000] * 50_000\nb = 'x' * 49_999 + 'x'\n"
              "for i in range(1_000):\n    c = a.count(b)")
    with limits.override(max_seconds=0.3):
        started = time.monotonic()
        with pytest.raises(BudgetExceeded) as refused:
            execute(script, {})
    # Without the clock: 1,000 slow steps, minutes. With it: about 0.3 s, more when busy.
    assert refused.value.limit == "max_seconds" and time.monotonic() - started < 10


def test_round_to_far_too_many_tens_is_zero_at_once():
    started = time.process_time()
    assert evaluate("round(123, -n)", dict(DATA)) == 0  # would compute 10 ** (10 ** 9)
    assert time.process_time() - started < 0.5
    assert evaluate("round(1234, -2)", {}) == 1200 and evaluate("round(2.567, 2)", {}) == 2.57
    assert evaluate("round(-5678, -3)", {}) == -6000 and evaluate("round(7)", {}) == 7


def test_ordinary_code_keeps_its_meaning_under_the_guards():
    context = {"記録": ["初回"], "d": {"a": 1}, "names": ["Bob", "alice"], "日": date(2025, 4, 1)}
    alias = context["記録"]
    execute("記録 += ['訪問']\nl = [0, 1, 2, 3]\nl[1:3] = ['a', 'b', 'c']\nl[:1] += [9]\n"
            "s = {1}\ns |= {2}\nn = 2\nn **= 10\ne = {**d, 'b': 2}\n"
            "m = sorted(names, key=str.lower)\nt = f'{日:%Y年%m月%d日} {n:>6}'\n"
            "p = '%s件 %05.1f' % (3, 2.5)\nz = dict(zip(['x', 'y'], [1, 2]))\n"
            "q = sum([[1], [2]], [])\nw = [*names, *'ab']\nk = dict.fromkeys(['a'], 0)", context)
    assert alias == ["初回", "訪問"] and context["記録"] is alias  # += extends in place
    assert context["l"] == [0, 9, "a", "b", "c", 3]
    assert context["s"] == {1, 2} and context["n"] == 1024
    assert context["e"] == {"a": 1, "b": 2} and context["m"] == ["alice", "Bob"]
    assert context["t"] == "2025年04月01日   1024" and context["p"] == "3件 002.5"
    assert context["z"] == {"x": 1, "y": 2} and context["q"] == [1, 2]
    assert context["w"] == ["Bob", "alice", "a", "b"] and context["k"] == {"a": 0}


@pytest.mark.parametrize("source", [
    "list.type", "list.make", "'a'.ljust.method", "str.type('x')", "_kasane_iter([1])",
    "_kasane_attr(1, 'real')",
])
def test_the_guards_cannot_be_reached_from_model_text(source):
    with pytest.raises((UnsafeExpression, ModelCodeError)):
        evaluate(source, {})


def test_python_errors_of_model_code_are_value_errors_with_a_japanese_reason():
    with pytest.raises(ModelCodeError) as failed:
        evaluate("1 / 0", {})
    assert failed.value.error_class == "ZeroDivisionError"
    assert str(failed.value) == "0 で割っています（ZeroDivisionError: division by zero）"
    with pytest.raises(ModelCodeError, match="名前が定義されていません"):
        evaluate("未定義 + 1", {})
    with pytest.raises(ModelCodeError, match="TypeError"):
        evaluate("dict(**d, a=2)", {"d": {"a": 1}})
    with pytest.raises(ValueError, match="^整数に変換できません"):
        evaluate("int('十')", {})
    # Leading zeros, a prefix or underscores do not make a small number big.
    assert evaluate("int('0' * 2000 + '7') + int('0x' + 'f' * 8, 16) + int('1_000')", {}) == 7 + 0xffffffff + 1000


def test_the_first_refusal_named_is_the_first_one_read():
    with pytest.raises(UnsafeExpression, match="__class__"):
        check_expression("().__class__.__bases__")


def test_free_names_tell_a_constant_from_an_expression_over_data():
    assert free_names("sum([i for i in range(10)])") == frozenset()
    assert free_names("len(記録) > 2") == {"記録"}
    assert free_names("x = 0\nfor i in range(3):\n    x += i", "exec") == frozenset()
    assert free_names("件数 += 1", "exec") == frozenset()  # assigned, so lint may run it


# --- storable data ---------------------------------------------------------------------------

def test_what_can_be_stored_today_is_accepted():
    value = {"文": "相談", "n": 2 ** 4000, "f": 1.5, "b": True, "none": None, "l": [1, (2, 3)],
             "s": {1, 2}, "d": date(2025, 4, 1), "t": datetime(2025, 4, 1, tzinfo=timezone.utc),
             "td": timedelta(days=3), "u": uuid4(), "f2": len}
    assert storable.check_value(value) > 0


@pytest.mark.parametrize(("value", "path", "reason"), [
    ({"a": [0, 0, 1j]}, "値['a'][2]", "複素数"),
    ({"a": {(1, 2): 3}}, "値['a']", "辞書のキー (1, 2)"),
    ({"a": {1: 3}}, "値['a']", "辞書のキー 1"),
    ([range(3)], "値[0]", "range"),
    ([b"x"], "値[0]", "bytes"),
    ([float("nan")], "値[0]", "NaN"),
    ([float("-inf")], "値[0]", "無限大"),
    ([2 ** 5000], "値[0]", "KASANE_LIMIT_MAX_INT_BITS"),
    (["\ud800"], "値[0]", "サロゲート"),
    ([frozenset()], "値[0]", "frozenset"),
    ([object()], "値[0]", "object 型"),
])
def test_what_cannot_be_stored_is_refused_with_its_path(value, path, reason):
    with pytest.raises(NotStorable) as refused:
        storable.check_value(value)
    assert refused.value.path == path and reason in refused.value.reason


def test_a_list_that_contains_itself_is_named():
    value = {"a": [1]}
    value["a"].append(value)
    with pytest.raises(NotStorable, match="自分自身を含む"):
        storable.check_value(value)


def test_nesting_is_bounded_without_recursion():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(NotStorable) as refused:
        storable.check_value(deep)
    assert refused.value.limit == "max_data_depth" and "…" in refused.value.path
    shallow = []
    for _ in range(Limits().max_data_depth - 1):
        shallow = [shallow]
    storable.check_value(shallow)


def test_shared_references_count_each_time_and_are_caught_before_dumping():
    big = "x" * 1_000_000
    started = time.process_time()
    with pytest.raises(NotStorable) as refused:
        storable.check_value([big] * 100_000)  # 100 GB of JSON, 1 MB of memory
    assert refused.value.limit == "max_state_bytes"
    assert time.process_time() - started < 0.5


def _loop_workflow():
    from engine import state
    bundle = parse_bundle(read_model_files([MODELS / "loop.bpmn"]))
    spec, subprocess_specs, _ = build_pathway(bundle.parser, "loop")
    workflow = state.new_workflow(spec, subprocess_specs)
    workflow.task_tree.data["回数"] = 0
    workflow.do_engine_steps()
    return workflow


def test_check_workflow_names_the_element_and_skips_what_was_checked_before():
    workflow = _loop_workflow()
    assert storable.check_workflow(workflow) > 0
    since = time.time()
    finished = next(t for t in workflow.get_tasks() if t.has_state(TaskState.COMPLETED)
                    and t.task_spec.bpmn_id)
    finished.data["bad"] = 1j
    storable.check_workflow(workflow, since=since)  # finished before: checked when it finished
    with pytest.raises(InvalidInput) as refused:
        storable.check_workflow(workflow)
    assert refused.value.fields == {"element": finished.task_spec.bpmn_id, "path": "bad"}
    ready = workflow.get_next_task(spec_name="review")
    ready.data["big"] = ["x" * 1000] * 10_000
    with pytest.raises(InvalidInput) as refused:
        storable.check_workflow(workflow, since=since)
    assert refused.value.fields["limit"] == "max_state_bytes"
    assert refused.value.fields["element"] == "review"


# --- infinite values are refused by the evaluator only where they are stored ----------------

def test_nan_is_a_value_until_it_is_stored():
    assert math.isnan(evaluate("float('nan')", {}))
    with pytest.raises(NotStorable, match="NaN"):
        execute("x = float('nan')", {})
