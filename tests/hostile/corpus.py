"""Hostile model text: what a manager could put into a model to hang or exhaust a worker.

Each item is model text with ``NN`` where a large number (or a value) goes. It runs in
two variants per slot:

- ``lint``: NN is written as a constant, so lint can run the text and must refuse it
  with the element's id (text refused by its shape alone is refused here too);
- ``run``: NN is the case data ``n``, so only running the case can tell: opening the
  case must end in a JSON error naming the element and the limit.

``expect`` is ``("limit", name)``: refused for going over that setting of engine.limits
(any of several names, when more than one stops it first); ``("reason", text)``: refused
with a message containing the text; ``("ok", None)``: harmless, the case opens.
"""
from __future__ import annotations

from dataclasses import dataclass

from tests.hostile.models import SLOTS

ALL = tuple(SLOTS)
TIMERS = ("timeDate", "timeDuration", "timeCycle", "dueDate")


@dataclass(frozen=True)
class Item:
    name: str
    text: str
    n: object
    expect: tuple
    slots: tuple = ("condition",)
    variants: tuple = ("lint", "run")
    literal: bool = False  # the lint variant is plain ISO text, not an expression


def limit(*names):
    return ("limit", frozenset(names))


def reason(text):
    return ("reason", text)


OK = ("ok", None)
# A loop is stopped by its step count, or by the clock when the machine is busy.
LOOPING = limit("max_iterations", "max_seconds")

EXPRESSIONS = [
    # hung past 60 s on main
    Item("double_for", "sum([1 for i in range(NN) for j in range(NN)])", 100_000,
         LOOPING, ALL),
    Item("chained_squaring", "[x for x in [3] for k in range(NN) for x in [x * x]]", 40,
         limit("max_int_bits"), ("condition", "script", "dmnOutput")),
    Item("power_tower", "NN ** NN ** NN", 10, limit("max_int_bits")),
    # 1-4 GB or a MemoryError on main
    Item("ljust", "'a'.ljust(NN)", 10 ** 9, limit("max_items"), ALL),
    Item("zfill", "'1'.zfill(NN)", 10 ** 9, limit("max_items")),
    Item("expandtabs", "('\\t' * 100).expandtabs(NN)", 10 ** 7, limit("max_items")),
    Item("percent_star", "'%*d' % (NN, 1)", 10 ** 9, limit("max_items")),
    Item("percent_width", "('%0' + str(NN) + 'd') % 1", 999_999_999, limit("max_items")),
    Item("format_width", "f'{1:>{NN}}'", 10 ** 9, limit("max_items"), ("condition", "dmnOutput")),
    Item("format_precision", "f'{1.5:.{NN}f}'", 10 ** 9, limit("max_items")),
    Item("big_strings", "len(['x' * NN for i in range(NN)])", 100_000,
         limit("max_allocation"), ALL),
    Item("big_lists", "len([list(range(NN)) for i in range(NN)])", 100_000,
         limit("max_allocation")),
    Item("sum_of_lists", "len(sum([[1] * NN] * NN, []))", 1000,
         limit("max_allocation", "max_items"), ("condition", "timeDuration")),
    Item("zip_transpose", "len(list(zip(*[[1] * NN] * NN)))", 10_000, limit("max_items"),
         ("condition", "loopCardinality")),
    Item("join", "len('x'.join(['y' * NN] * 100))", 100_000, limit("max_items")),
    Item("replace", "len(('a' * 1000).replace('a', 'b' * NN))", 10_000, limit("max_items")),
    Item("str_of_lists", "len(str([['x' * 1000] * 1000] * NN))", 10, limit("max_items")),
    Item("slices", "len([s[i:] for s in ['x' * NN] for i in range(NN)])", 100_000,
         limit("max_allocation")),
    Item("unpacking", "len([*[0] * NN, *[0] * NN])", 100_000, limit("max_items")),
    Item("translate", "len('aa'.translate({97: 'x' * NN}))", 100_000, limit("max_items")),
    Item("to_bytes", "len((1).to_bytes(NN, 'big'))", 10 ** 9, limit("max_items")),
    Item("range", "len(range(NN))", 10 ** 9, limit("max_items")),
    Item("key_function", "max([NN], key='a'.ljust)", 10 ** 9, limit("max_items")),
    # tracebacks on main: refused by their shape, so lint refuses both variants
    Item("plus_chain", "+".join(["NN"] * 331), 1, limit("max_depth"), ALL, ("lint",)),
    Item("unary_minus", "-" * 3000 + "NN", 1, limit("max_depth"), ("condition", "script"),
         ("lint",)),
    Item("long_text", "'" + "x" * 20_001 + "' == NN", 1, limit("max_source_length"),
         variants=("lint",)),
    # results that cannot be stored (a DMN output lands in the case data)
    Item("complex_output", "NN * 1j", 1, reason("複素数"), ("dmnOutput",)),
    Item("nan_output", "float('nan') * NN", 1, reason("NaN"), ("dmnOutput",)),
    Item("shared_output", "['x' * 100000] * NN", 100, limit("max_state_bytes"), ("dmnOutput",)),
    # harmless
    Item("small_sum", "sum([i for i in range(NN)]) >= 0", 1000, OK, ("condition", "script")),
    Item("short_pad", "len('a'.ljust(NN)) > 0", 100, OK),
]

SCRIPTS = [
    Item("nested_for", "c = 0\nfor i in range(NN):\n    for j in range(NN):\n        c += 1",
         100_000, LOOPING, ("script",)),
    Item("loop_10_12", "c = 0\nfor i in range(NN):\n    for j in range(NN):\n"
         "        for k in range(NN):\n            c += 1", 10_000, LOOPING,
         ("script",)),
    Item("square_loop", "x = 3\nfor i in range(NN):\n    x = x * x", 40, limit("max_int_bits"),
         ("script",)),
    Item("double_string", "s = 'ab'\nfor i in range(NN):\n    s = s + s", 40, limit("max_items"),
         ("script",)),
    Item("double_list", "l = [1]\nfor i in range(NN):\n    l += l", 40, limit("max_items"),
         ("script",)),
    Item("double_extend", "l = [1]\nfor i in range(NN):\n    l.extend(l)", 40,
         limit("max_items"), ("script",)),
    Item("slice_growth", "l = [1]\nfor i in range(NN):\n    l[:0] = l", 40, limit("max_items"),
         ("script",)),
    # values that cannot be stored
    Item("shared_big_string", "s = 'x' * 100000\nl = [s] * NN", 100_000,
         limit("max_state_bytes"), ("script",)),
    Item("deep_nesting", "x = []\nfor i in range(NN):\n    x = [x]", 10_000,
         limit("max_data_depth"), ("script",)),
    Item("complex", "x = NN * 1j", 1, reason("複素数"), ("script",)),
    Item("tuple_key", "d = {(NN, 2): 3}", 1, reason("辞書のキー"), ("script",)),
    Item("range_value", "r = range(NN)", 3, reason("range は保存できません"), ("script",)),
    Item("bytes_value", "b = b'x' * NN", 3, reason("bytes"), ("script",)),
    Item("self_reference", "l = [NN]\nl.append(l)", 1, reason("自分自身"), ("script",)),
    Item("nan", "x = float('nan') * NN", 1, reason("NaN"), ("script",)),
    Item("infinity", "x = float('inf') * NN", 1, reason("無限大"), ("script",)),
    # NN itself must be storable: case data past max_int_bits is refused as the caller's
    # input before any model code runs (tests/test_cli_bad_input.py).
    Item("huge_integer", "x = NN * NN", 10 ** 1000, limit("max_int_bits"), ("script",)),
    Item("small_loop", "c = 0\nfor i in range(NN):\n    c += i", 1000, OK, ("script",)),
]

LOOPS = [
    Item("cardinality", "NN", 10 ** 9, limit("max_instances"), ("loopCardinality",)),
    Item("power_cardinality", "10 ** 9 + NN", 0, limit("max_instances"), ("loopCardinality",)),
    Item("collection", "[0] * NN", 100_000, limit("max_instances"), ("loopCardinality",)),
    Item("negative", "NN - 5", 0, reason("0 以上"), ("loopCardinality",)),
    Item("few_instances", "NN", 3, OK, ("loopCardinality",)),
]

TIMER_VALUES = [
    Item("duration_number", "NN + 2", 40, reason("ISO 8601"), ("timeDuration", "dueDate")),
    Item("duration_words", "NN", "next week", reason("読めません"), ("timeDuration", "timeDate")),
    Item("date_none", "NN", None, reason("None"), ("timeDate",)),
    Item("cycle_none", "NN", None, reason("None"), ("timeCycle",)),
    Item("duration_9999_years", "P9999Y", "P9999Y", limit("max_timer_years"),
         ("timeDuration", "dueDate"), literal=True),
    Item("huge_months", "P99999999999M", "P99999999999M", limit("max_timer_years"),
         ("timeDuration", "dueDate"), literal=True),
    Item("year_9999_offset", "9999-12-31T23:00:00-05:00", "9999-12-31T23:00:00-05:00",
         limit("max_year"), ("timeDate", "dueDate"), literal=True),
    Item("year_1_offset", "0001-01-01T00:30:00+09:00", "0001-01-01T00:30:00+09:00",
         limit("min_year"), ("timeDate", "dueDate"), literal=True),
    Item("year_9999_date", "9999-12-31", "9999-12-31", limit("max_year"), ("dueDate",),
         literal=True),
    Item("cycle_zero", "R/PT0S", "R/PT0S", reason("間隔が 0"), ("timeCycle",), literal=True),
    Item("cycle_one_second", "R3/PT1S", "R3/PT1S", limit("min_cycle_seconds"), ("timeCycle",),
         literal=True),
    Item("cycle_year_9999", "R/9999-12-31T00:00:00Z/P1D", "R/9999-12-31T00:00:00Z/P1D",
         limit("max_year"), ("timeCycle",), literal=True),
    Item("cycle_too_long", "R2/P200Y", "R2/P200Y", limit("max_timer_years"), ("timeCycle",),
         literal=True),
    Item("usual_duration", "P3D", "P3D", OK, ("timeDuration", "dueDate"), literal=True),
    Item("usual_cycle", "R2/P1D", "R2/P1D", OK, ("timeCycle",), literal=True),
    Item("usual_date", "2026-05-01", "2026-05-01", OK, ("timeDate", "dueDate"), literal=True),
]

ITEMS = EXPRESSIONS + SCRIPTS + LOOPS + TIMER_VALUES


def cases():
    """(case id, slot, variant, item) for every item in every slot it names."""
    for item in ITEMS:
        for slot in item.slots:
            for variant in item.variants:
                yield f"{item.name}-{slot}-{variant}", slot, variant, item


def text_for(item: Item, variant: str) -> str:
    if variant == "run":
        return item.text.replace("NN", "n") if not item.literal else "n"
    return item.text if item.literal else item.text.replace("NN", repr(item.n))
