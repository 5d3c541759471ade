"""The run-time side of the restricted evaluator: model code runs on a budget.

``engine.instrument`` rewrites every loop, comprehension, size-changing operator,
attribute, slice, f-string field and star-unpacking of model code into calls of the
guards below (and of engine.safe_types, for builtins and methods). One :class:`Budget`
per evaluation counts loop steps, watches the clock and adds up what is created; each
guard checks the size of what an operation would create *before* it is created wherever
that size can be known, so a single line cannot hang or exhaust a worker. Over budget is
always :class:`engine.limits.BudgetExceeded`.

The guards are reachable only under names that start with ``_kasane_``, which model text
cannot name.
"""
from __future__ import annotations

import operator
import re
from contextvars import ContextVar
from time import monotonic

from engine import limits as _limits
from engine.limits import BudgetExceeded


# When the evaluation belongs to a case (engine.expressions.RestrictedScriptEngine), the
# instant the case's own evaluation time (max_case_seconds) runs out.
case_deadline: ContextVar[float | None] = ContextVar("kasane_case_deadline", default=None)


class Budget:
    """What one evaluation may still do."""

    __slots__ = ("limits", "ticks", "max_ticks", "deadline", "clock_limit", "allocated",
                 "max_allocation", "max_items", "max_bits")

    def __init__(self, limits: _limits.Limits | None = None):
        limits = limits or _limits.current()
        self.limits = limits
        self.ticks = 0
        self.max_ticks = limits.max_iterations
        self.deadline = monotonic() + limits.max_seconds
        self.clock_limit = "max_seconds"
        case = case_deadline.get()
        if case is not None and case < self.deadline:
            self.deadline, self.clock_limit = case, "max_case_seconds"
        self.allocated = 0
        self.max_allocation = limits.max_allocation
        self.max_items = limits.max_items
        self.max_bits = limits.max_int_bits

    def check_time(self) -> None:
        if monotonic() > self.deadline:
            self.out_of_time()

    def out_of_time(self):
        raise BudgetExceeded(self.clock_limit, allowed=getattr(self.limits, self.clock_limit))

    def grow(self, n: int, what: str | None = None) -> None:
        """An operation is about to create a value of n items or characters."""
        if n > self.max_items:
            raise BudgetExceeded("max_items", n, self.max_items, what)
        self.allocated += n
        if self.allocated > self.max_allocation:
            raise BudgetExceeded("max_allocation", allowed=self.max_allocation, detail=what)
        self.check_time()

    def items(self, n: int, what: str | None = None) -> None:
        """A container is about to hold n items (nothing new is allocated)."""
        if n > self.max_items:
            raise BudgetExceeded("max_items", n, self.max_items, what)

    def int_bits(self, bits: int) -> None:
        if bits > self.max_bits:
            raise BudgetExceeded("max_int_bits", bits, self.max_bits)


_current: ContextVar[Budget | None] = ContextVar("kasane_budget", default=None)


def current() -> Budget:
    budget = _current.get()
    return budget if budget is not None else Budget()


class running:
    """``with running():`` gives the code inside one fresh budget."""

    __slots__ = ("budget", "_token")

    def __init__(self, limits: _limits.Limits | None = None):
        self.budget = Budget(limits)

    def __enter__(self) -> Budget:
        self._token = _current.set(self.budget)
        return self.budget

    def __exit__(self, *exc) -> None:
        _current.reset(self._token)


# --- sizes -------------------------------------------------------------------------------

_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
_SIZED = (list, tuple, str, bytes, dict, set, frozenset, range) + _VIEWS
CREATED = (str, bytes, list, tuple, dict, set, frozenset)
_SEQ = (str, bytes, list, tuple)


def size_of(value) -> int | None:
    """len() of a value whose size is known without iterating it, else None."""
    if isinstance(value, _SIZED):
        try:
            return len(value)
        except OverflowError:  # a range beyond sys.maxsize
            return abs((value.stop - value.start) // value.step)
    return None


def materialize(iterable, budget: Budget | None = None):
    """A sized view of an iterable: itself when its size is known, else a list built one
    counted step at a time."""
    budget = budget or current()
    size = size_of(iterable)
    if size is not None:
        return iterable
    items = []
    for item in iterate(iterable):
        items.append(item)
        budget.items(len(items))
    return items


def text_size(value, cap: int) -> int:
    """About how many characters str()/repr() of a value has; stops once past cap."""
    total = 0
    stack = [(value, 0)]
    on_path: set[int] = set()
    while stack:
        item, leave = stack.pop()
        if leave:
            on_path.discard(leave)
            continue
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes):
            total += 4 * len(item) + 3
        elif isinstance(item, int):
            total += item.bit_length() * 30103 // 100000 + 2
        elif isinstance(item, (list, tuple, set, frozenset, dict)):
            if id(item) in on_path:
                total += 5  # [...]
                continue
            total += 2 + 2 * len(item)
            on_path.add(id(item))
            stack.append((None, id(item)))
            if isinstance(item, dict):
                stack.extend((v, 0) for kv in item.items() for v in kv)
            else:
                stack.extend((v, 0) for v in item)
        else:
            total += 32
        if total > cap:
            return total
    return total


# --- loops ---------------------------------------------------------------------------------

def iterate(iterable):
    """Every loop and comprehension iterates through this: one step per item."""
    budget = current()
    limit, deadline = budget.max_ticks, budget.deadline
    for item in iterable:
        budget.ticks += 1
        if budget.ticks > limit:
            raise BudgetExceeded("max_iterations", allowed=limit)
        if monotonic() > deadline:
            budget.out_of_time()
        yield item


def sized(value):
    """A comprehension's result, checked once built (each item already cost a step)."""
    if isinstance(value, CREATED):
        current().grow(len(value), "内包表記の結果")
    return value


# --- operators -----------------------------------------------------------------------------

def checked_int(result):
    if type(result) is int and result.bit_length() > 64:
        current().int_bits(result.bit_length())
    return result


def _check_add(a, b):
    if isinstance(a, _SEQ) and isinstance(b, _SEQ):
        current().grow(len(a) + len(b), "連結の結果")


def add(a, b):
    if type(a) is int and type(b) is int:
        return checked_int(a + b)
    _check_add(a, b)
    return checked_int(a + b)


def iadd(a, b):
    if isinstance(a, list) and not isinstance(b, _SEQ):
        b = materialize(b)  # list += any iterable extends the list in place
        current().grow(len(a) + len(b), "連結の結果")
    else:
        _check_add(a, b)
    return checked_int(operator.iadd(a, b))


def sub(a, b):
    return checked_int(a - b)


def isub(a, b):
    return checked_int(operator.isub(a, b))


def _check_mul(a, b):
    if isinstance(a, int) and isinstance(b, int):
        if a and b:
            bits = abs(a).bit_length() + abs(b).bit_length() - 1
            if bits > 64:
                current().int_bits(bits)
    elif isinstance(a, _SEQ) and isinstance(b, int):
        current().grow(len(a) * max(b, 0), "繰り返しの結果")
    elif isinstance(b, _SEQ) and isinstance(a, int):
        current().grow(len(b) * max(a, 0), "繰り返しの結果")


def mul(a, b):
    _check_mul(a, b)
    return a * b


def imul(a, b):
    _check_mul(a, b)
    return operator.imul(a, b)


def _check_pow(base, exponent):
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        bits = abs(base).bit_length()
        if bits > 1:
            current().int_bits((bits - 1) * exponent + 1)


def power(base, exponent):
    _check_pow(base, exponent)
    return checked_int(base ** exponent)


def ipow(base, exponent):
    _check_pow(base, exponent)
    return checked_int(operator.ipow(base, exponent))


# %-formatting: %(name)s, flags, width or *, .precision or .*, length modifier, type.
_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def _check_percent(fmt, args):
    budget = current()
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    positional = list(args) if isinstance(args, tuple) else [args]
    mapping = args if isinstance(args, dict) else None
    total = len(text)
    index = 0

    def take():
        nonlocal index
        value = positional[index] if index < len(positional) else None
        index += 1
        return value

    for match in _PERCENT.finditer(text):
        key, width, precision, kind = match.groups()
        if kind == "%":
            continue
        numbers = []
        for part in (width, precision):
            if part == "*":
                value = take()
                numbers.append(value if isinstance(value, int) else 0)
            elif part:
                numbers.append(int(part))
        value = mapping.get(key) if (mapping is not None and key is not None) else take()
        total += sum(abs(n) for n in numbers) + text_size(value, budget.max_items)
        if total > budget.max_items:
            break
    budget.grow(total, "% による書式化の結果")


def mod(a, b):
    if isinstance(a, (str, bytes)):
        _check_percent(a, b)
    return a % b


def imod(a, b):
    if isinstance(a, (str, bytes)):
        _check_percent(a, b)
    return operator.imod(a, b)


def _check_union(a, b):
    if isinstance(a, (set, frozenset, dict)) and isinstance(b, (set, frozenset, dict, _VIEWS)):
        current().grow(len(a) + len(b), "和集合の結果")


def bitor(a, b):
    _check_union(a, b)
    return a | b


def ibitor(a, b):
    _check_union(a, b)
    return operator.ior(a, b)


def bitxor(a, b):
    _check_union(a, b)
    return a ^ b


def ibitxor(a, b):
    _check_union(a, b)
    return operator.ixor(a, b)


# --- slices, displays, unpacking -----------------------------------------------------------

def get_slice(value, lower, upper, step):
    result = value[lower:upper:step]
    if isinstance(result, CREATED) and result is not value:
        current().grow(len(result), "スライスの結果")
    return result


def set_slice(target, lower, upper, step, value):
    if isinstance(target, list):
        value = materialize(value)
        removed = len(range(*slice(lower, upper, step).indices(len(target))))
        budget = current()
        budget.items(len(target) - removed + len(value), "スライスへの代入の結果")
        budget.grow(len(value))
    target[lower:upper:step] = value


def unpack(kind: str, *parts):
    """``[a, *b, c]`` (and tuples, sets, call arguments): every part is an iterable."""
    budget = current()
    parts = [materialize(part, budget) for part in parts]
    budget.grow(sum(len(part) for part in parts), "展開 (*) の結果")
    result = [item for part in parts for item in part]
    return tuple(result) if kind == "tuple" else set(result) if kind == "set" else result


def merge(*mappings):
    """``{**a, "k": v, **b}``: later keys win, as in a dict display."""
    budget = current()
    budget.grow(sum(len(m) if isinstance(m, _SIZED) else 0 for m in mappings), "展開 (**) の結果")
    result = {}
    for mapping in mappings:
        result.update(mapping)
    return result


def keywords(*mappings):
    """``f(x=1, **d)``: like ``merge`` but a repeated keyword is an error, as in a call."""
    budget = current()
    budget.grow(sum(len(m) if isinstance(m, _SIZED) else 0 for m in mappings), "展開 (**) の結果")
    result = {}
    for mapping in mappings:
        for key in mapping.keys():
            if key in result:
                raise TypeError(f"got multiple values for keyword argument {key!r}")
            result[key] = mapping[key]
    return result


# width and precision of the format-spec mini-language ([[fill]align][sign][z][#][0]...)
_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(\d*)[,_]?(?:\.(\d+))?[a-zA-Z%]?", re.S)


def format_value(value, conversion: int, spec: str):
    """One replacement field of an f-string: ``f"{value!r:>{width}}"``."""
    budget = current()
    if conversion in (114, 97):  # !r, !a
        budget.grow(text_size(value, budget.max_items), "f 文字列の結果")
        value = repr(value) if conversion == 114 else ascii(value)
    elif conversion == 115 or isinstance(value, (list, tuple, set, frozenset, dict)):
        budget.grow(text_size(value, budget.max_items), "f 文字列の結果")
    match = _SPEC.fullmatch(spec) if isinstance(spec, str) else None
    if match:
        budget.grow(sum(int(n) for n in match.groups() if n), "f 文字列の書式指定")
    result = format(str(value) if conversion == 115 else value, spec)
    budget.grow(len(result), "f 文字列の結果")
    return result
