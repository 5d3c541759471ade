"""Grammar-based fuzzing of the restricted evaluator.

Every generated expression or script must end in a result, or in a refusal of the
ValueError family (UnsafeExpression, BudgetExceeded, ModelCodeError, NotStorable, a
helper's ValueError) or a SyntaxError: never RecursionError, MemoryError, another
exception class or a hang (a timer interrupts any example that runs past its limit).
The limits are lowered so that an example costs milliseconds; the guards are the same.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import limits
from engine.expressions import evaluate, execute

LIMITS = dict(max_iterations=20_000, max_items=5_000, max_allocation=50_000, max_seconds=1.0,
              max_data_depth=20, max_state_bytes=200_000)
WATCHDOG_SECONDS = 5  # a hang, not a slow example: the budget stops everything at 1 s
DATA = {"n": 10 ** 6, "k": 3, "s": "ab\tc", "l": [1, 2, 3], "d": {"a": 1}, "t": "x" * 1000,
        "ll": [[1, 2], [3]]}


class Hang(BaseException):
    """Raised by the watchdog; a BaseException so that nothing on the way catches it."""


@contextmanager
def watchdog(seconds):
    def alarm(signum, frame):
        raise Hang(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


numbers = st.sampled_from(["0", "1", "2", "3", "7", "-1", "40", "100", "10 ** 9", "10 ** 5",
                           "2 ** 64", "n", "k", "1.5", "float('nan')", "True"])
texts = st.sampled_from(["'a'", "'\\t'", "'%*d'", "'%0999d'", "'x' * 10", "s", "t", "''", "'相談'",
                         "'{}'", "b'x'"])
names = st.sampled_from(["l", "d", "ll", "n", "s", "x", "i"])
# f-string fields in Python 3.11 can hold neither quotes nor backslashes
fields = st.sampled_from(["n", "k", "s", "l", "d", "1", "1.5", "10 ** 9", "n * n", "k * 9",
                          "[l] * k", "len(l)"])
atoms = st.one_of(numbers, texts, names, st.sampled_from(["[]", "[0]", "[1, 2]", "{}", "None",
                                                          "(1, 2)", "{1, 2}"]))
BINARY = ["+", "-", "*", "**", "%", "//", "/", "|", "^", "&", "==", "<", " in ", " and ",
          " or "]
METHODS = ["ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join", "split",
           "upper", "append", "extend", "count", "get", "items", "translate", "to_bytes",
           "fromkeys", "copy", "insert", "update"]
FUNCTIONS = ["len", "sum", "sorted", "list", "str", "int", "range", "zip", "min", "max",
             "abs", "set", "tuple", "dict", "enumerate", "any", "round", "bool"]


def _compound(inner):
    pair = st.tuples(inner, inner)
    return st.one_of(
        st.builds(lambda a, op, b: f"({a}{op}{b})", inner, st.sampled_from(BINARY), inner),
        st.builds(lambda op, a: f"({op}{a})", st.sampled_from(["-", "not ", "~", "+"]), inner),
        st.builds(lambda f, args: f"{f}({', '.join(args)})", st.sampled_from(FUNCTIONS),
                  st.lists(inner, max_size=2)),
        st.builds(lambda f, a: f"{f}(*{a})", st.sampled_from(["zip", "max", "sum"]), inner),
        st.builds(lambda a, m, args: f"({a}).{m}({', '.join(args)})", inner,
                  st.sampled_from(METHODS), st.lists(inner, max_size=2)),
        st.builds(lambda m, args: f"str.{m}({', '.join(args)})", st.sampled_from(METHODS),
                  st.lists(inner, max_size=3)),
        st.builds(lambda e, v, it: f"[{e} for {v} in {it}]", inner, st.sampled_from("xi"), inner),
        st.builds(lambda e, a, b: f"[{e} for x in {a} for i in {b}]", inner, inner, inner),
        st.builds(lambda e, it: f"{{{e}: 1 for x in {it}}}", inner, inner),
        st.builds(lambda a, b: f"[*{a}, *{b}]", inner, inner),
        st.builds(lambda a, b: f"{{**{a}, **{b}}}", inner, inner),
        st.builds(lambda a, b, c: f"{a}[{b}:{c}]", inner, inner, inner),
        st.builds(lambda a, b: f"{a}[{b}]", inner, inner),
        st.builds(lambda a, b: f'f"{{{a}:>{{{b}}}}}"', fields, fields),
        st.builds(lambda a, b: f'f"{{{a}!r}}{{{b}:.{{{b}}}}}"', fields, fields),
        st.builds(lambda a, b: f"({a} % ({b}, {b}))", texts, inner),
        st.builds(lambda a, b, c: f"({a} if {b} else {c})", inner, inner, inner),
        st.builds(lambda p: f"[{p[0]}, {p[1]}]", pair),
        st.builds(lambda a, k: "(" * k + a + ")" * k, inner, st.integers(1, 30)),
        st.builds(lambda a, k: "-" * k + a, inner, st.sampled_from([1, 2, 3, 50, 3000])),
        st.builds(lambda a, k: "+".join([a] * k), inner, st.sampled_from([2, 3, 40, 331])),
    )


expressions = st.recursive(atoms, _compound, max_leaves=12)


def _statements(inner):
    block = st.lists(inner, min_size=1, max_size=3).map(
        lambda lines: "\n".join("    " + line.replace("\n", "\n    ") for line in lines))
    return st.one_of(
        st.builds(lambda v, e, b: f"for {v} in {e}:\n{b}", st.sampled_from("xi"), expressions,
                  block),
        st.builds(lambda e, b: f"if {e}:\n{b}", expressions, block),
    )


simple_statements = st.one_of(
    st.builds(lambda v, e: f"{v} = {e}", names, expressions),
    st.builds(lambda v, op, e: f"{v} {op}= {e}", names, st.sampled_from(["+", "*", "-", "**", "|"]),
              expressions),
    st.builds(lambda v, e: f"{v}.append({e})", names, expressions),
    st.builds(lambda v, e: f"{v}[0:1] = {e}", names, expressions),
    st.builds(lambda v: f"{v} = [{v}]", names),
    expressions,
)
statements = st.recursive(simple_statements, _statements, max_leaves=6)
scripts = st.lists(statements, min_size=1, max_size=4).map("\n".join)


def outcome(run, source):
    with limits.override(**LIMITS), watchdog(WATCHDOG_SECONDS):
        try:
            run(source, {k: (v.copy() if hasattr(v, "copy") else v) for k, v in DATA.items()})
        except (SyntaxError, ValueError):
            return "refused"
        except Hang:
            raise AssertionError(f"hung: {source!r}") from None
        except BaseException as exc:  # noqa: BLE001 - the point is that nothing else escapes
            raise AssertionError(f"{type(exc).__name__} from {source!r}: {exc}") from exc
    return "result"


FUZZ = settings(max_examples=100, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@FUZZ
@given(expressions)
def test_fuzzed_expressions_end_in_a_result_or_a_refusal(source):
    assert outcome(evaluate, source) in ("result", "refused")


@FUZZ
@given(scripts)
def test_fuzzed_scripts_end_in_a_result_or_a_refusal(source):
    assert outcome(execute, source) in ("result", "refused")


@pytest.mark.parametrize("source", [
    "sum([1 for x in range(n) for i in range(n)])",
    "'a'.ljust(n)", "str.zfill('1', n)", "f'{1:>{n}}'", "'%*d' % (n, 1)",
    "[*l * n, *l * n]", "len(list(zip(*[l * 1000] * 1000)))", "-" * 3000 + "1",
])
def test_the_grammar_reaches_the_guards(source):
    """The fuzzer's building blocks do reach every guard (so a silent grammar cannot pass)."""
    with limits.override(**LIMITS):
        with pytest.raises(ValueError) as refused:
            evaluate(source, dict(DATA))
    assert "KASANE_LIMIT_" in str(refused.value)
