"""The run-time side of the restricted evaluator: model code runs on a budget.

``engine.instrument`` rewrites every loop, comprehension, size-changing operator,
attribute, slice, f-string field and star-unpacking of model code into calls of the
guards below. One :class:`Budget` per evaluation counts loop steps, watches the clock and
adds up what is created; each guard checks the size of what an operation would create
*before* it is created wherever that size can be known, so a single line cannot hang or
exhaust a worker. Over budget is always :class:`engine.limits.BudgetExceeded`.

The guards are reachable only under names that start with ``_kasane_``, which model text
cannot name; guarded builtins (``list``, ``str``, ...) never show their wrapper to model
code, because every attribute access goes through :func:`attr` first.
"""
from __future__ import annotations

import math
import operator
import re
from contextvars import ContextVar
from datetime import date, datetime, timedelta
from time import monotonic

from engine import limits as _limits
from engine.limits import BudgetExceeded


class Budget:
    """What one evaluation may still do."""

    __slots__ = ("limits", "ticks", "max_ticks", "deadline", "allocated", "max_allocation",
                 "max_items", "max_bits")

    def __init__(self, limits: _limits.Limits | None = None):
        limits = limits or _limits.current()
        self.limits = limits
        self.ticks = 0
        self.max_ticks = limits.max_iterations
        self.deadline = monotonic() + limits.max_seconds
        self.allocated = 0
        self.max_allocation = limits.max_allocation
        self.max_items = limits.max_items
        self.max_bits = limits.max_int_bits

    def check_time(self) -> None:
        if monotonic() > self.deadline:
            raise BudgetExceeded("max_seconds", allowed=self.limits.max_seconds)

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


def _budget() -> Budget:
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
_NEW = (str, bytes, list, tuple, dict, set, frozenset)
_SEQ = (str, bytes, list, tuple)


def _size(value) -> int | None:
    if isinstance(value, _SIZED):
        try:
            return len(value)
        except OverflowError:  # a range beyond sys.maxsize
            return math.inf
    return None


def materialize(iterable, budget: Budget | None = None):
    """A sized view of an iterable: itself when its size is known, else a list built one
    counted step at a time."""
    budget = budget or _budget()
    size = _size(iterable)
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
    budget = _budget()
    limit, deadline = budget.max_ticks, budget.deadline
    for item in iterable:
        budget.ticks += 1
        if budget.ticks > limit:
            raise BudgetExceeded("max_iterations", allowed=limit)
        if monotonic() > deadline:
            raise BudgetExceeded("max_seconds", allowed=budget.limits.max_seconds)
        yield item


def sized(value):
    """A comprehension's result, checked once built (each item already cost a step)."""
    if isinstance(value, _NEW):
        _budget().grow(len(value), "内包表記の結果")
    return value


# --- operators -----------------------------------------------------------------------------

def _int_result(result):
    if type(result) is int and result.bit_length() > 64:
        _budget().int_bits(result.bit_length())
    return result


def _check_add(a, b):
    if isinstance(a, _SEQ) and isinstance(b, _SEQ):
        _budget().grow(len(a) + len(b), "連結の結果")


def add(a, b):
    if type(a) is int and type(b) is int:
        return _int_result(a + b)
    _check_add(a, b)
    return _int_result(a + b)


def iadd(a, b):
    if isinstance(a, list) and not isinstance(b, _SEQ):
        b = materialize(b)  # list += any iterable extends the list in place
        _budget().grow(len(a) + len(b), "連結の結果")
    else:
        _check_add(a, b)
    return _int_result(operator.iadd(a, b))


def sub(a, b):
    return _int_result(a - b)


def isub(a, b):
    return _int_result(operator.isub(a, b))


def _check_mul(a, b):
    if isinstance(a, int) and isinstance(b, int):
        if a and b:
            bits = abs(a).bit_length() + abs(b).bit_length() - 1
            if bits > 64:
                _budget().int_bits(bits)
    elif isinstance(a, _SEQ) and isinstance(b, int):
        _budget().grow(len(a) * max(b, 0), "繰り返しの結果")
    elif isinstance(b, _SEQ) and isinstance(a, int):
        _budget().grow(len(b) * max(a, 0), "繰り返しの結果")


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
            _budget().int_bits((bits - 1) * exponent + 1)


def power(base, exponent):
    _check_pow(base, exponent)
    return _int_result(base ** exponent)


def ipow(base, exponent):
    _check_pow(base, exponent)
    return _int_result(operator.ipow(base, exponent))


# %-formatting: %(name)s, flags, width or *, .precision or .*, length modifier, type.
_PERCENT = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def _check_percent(fmt, args):
    budget = _budget()
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
        _budget().grow(len(a) + len(b), "和集合の結果")


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
    if isinstance(result, _NEW) and result is not value:
        _budget().grow(len(result), "スライスの結果")
    return result


def set_slice(target, lower, upper, step, value):
    if isinstance(target, list):
        value = materialize(value)
        removed = len(range(*slice(lower, upper, step).indices(len(target))))
        budget = _budget()
        budget.items(len(target) - removed + len(value), "スライスへの代入の結果")
        budget.grow(len(value))
    target[lower:upper:step] = value


def unpack(kind: str, *parts):
    """``[a, *b, c]`` (and tuples, sets, call arguments): every part is an iterable."""
    budget = _budget()
    parts = [materialize(part, budget) for part in parts]
    budget.grow(sum(len(part) for part in parts), "展開 (*) の結果")
    result = [item for part in parts for item in part]
    return tuple(result) if kind == "tuple" else set(result) if kind == "set" else result


def merge(*mappings):
    """``{**a, "k": v, **b}``: later keys win, as in a dict display."""
    budget = _budget()
    budget.grow(sum(len(m) if isinstance(m, _SIZED) else 0 for m in mappings), "展開 (**) の結果")
    result = {}
    for mapping in mappings:
        result.update(mapping)
    return result


def keywords(*mappings):
    """``f(x=1, **d)``: like ``merge`` but a repeated keyword is an error, as in a call."""
    budget = _budget()
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
    budget = _budget()
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


# --- builtins --------------------------------------------------------------------------------

class GuardedType:
    """A builtin type as model code sees it: calls are guarded, attributes are the type's."""

    __slots__ = ("type", "make")

    def __init__(self, type_, make):
        self.type = type_
        self.make = make

    def __call__(self, *args, **kwargs):
        return self.make(*args, **kwargs)

    def __repr__(self):
        return repr(self.type)


def _collection(kind):
    def make(iterable=(), /):
        budget = _budget()
        items = materialize(iterable, budget)
        budget.grow(len(items), f"{kind.__name__}() の結果")
        return kind(items)
    return make


def _dict(*args, **kwargs):
    budget = _budget()
    if args:
        source = args[0] if isinstance(args[0], dict) else materialize(args[0], budget)
        budget.grow(len(source) + len(kwargs), "dict() の結果")
        return dict(source, *args[1:], **kwargs)
    budget.grow(len(kwargs), "dict() の結果")
    return dict(**kwargs)


def _str(*args, **kwargs):
    budget = _budget()
    if args and not isinstance(args[0], (str, int, float, bool)):
        budget.grow(text_size(args[0], budget.max_items), "str() の結果")
    result = str(*args, **kwargs)
    budget.grow(len(result), "str() の結果")
    return result


def _int(*args, **kwargs):
    return _int_result(int(*args, **kwargs))


def guarded_range(*args):
    result = range(*args)
    size = _size(result)
    _budget().items(size, "range")
    return result


def guarded_sorted(iterable, /, *, key=None, reverse=False):
    budget = _budget()
    items = materialize(iterable, budget)
    budget.grow(len(items), "sorted() の結果")
    return sorted(items, key=key, reverse=reverse)


def guarded_sum(iterable, /, start=0):
    if isinstance(start, (str, bytes)):
        return sum((), start)  # TypeError, as in Python
    if isinstance(start, (int, float, complex)):
        return _int_result(sum(iterable, start))
    result = start  # lists or tuples: add one at a time, each addition checked
    for item in iterate(iterable):
        result = add(result, item)
    return result


def guarded_zip(*iterables, strict=False):
    sizes = [_size(it) for it in iterables]
    if all(size is not None for size in sizes):
        _budget().grow(min(sizes, default=0) * len(iterables), "zip() の結果")
        return zip(*iterables, strict=strict)
    return zip(*[it if size is not None else iterate(it) for it, size in zip(iterables, sizes)],
               strict=strict)


BUILTINS = {
    "list": GuardedType(list, _collection(list)),
    "tuple": GuardedType(tuple, _collection(tuple)),
    "set": GuardedType(set, _collection(set)),
    "dict": GuardedType(dict, _dict),
    "str": GuardedType(str, _str),
    "int": GuardedType(int, _int),
    "range": guarded_range,
    "sorted": guarded_sorted,
    "sum": guarded_sum,
    "zip": guarded_zip,
}


# --- methods ---------------------------------------------------------------------------------

def _pad(target, args, kwargs):
    width = args[0] if args else kwargs.get("width")
    if isinstance(width, int) and width > len(target):
        _budget().grow(width, "文字列の幅")
    return args, kwargs


def _expandtabs(target, args, kwargs):
    size = args[0] if args else kwargs.get("tabsize", 8)
    if isinstance(size, int):
        tab = "\t" if isinstance(target, str) else b"\t"
        _budget().grow(len(target) + target.count(tab) * max(size, 0), "expandtabs の結果")
    return args, kwargs


def _replace(target, args, kwargs):
    if len(args) >= 2 and isinstance(args[0], type(target)) and isinstance(args[1], type(target)):
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        found = target.count(old) if old else len(target) + 1
        if isinstance(count, int) and count >= 0:
            found = min(found, count)
        size = len(target) + found * (len(new) - len(old))
        if size > len(target):
            _budget().grow(size, "replace の結果")
    return args, kwargs


def _join(target, args, kwargs):
    if args:
        budget = _budget()
        items = materialize(args[0], budget)
        if isinstance(items, dict):
            items = list(items)
        size = len(target) * max(len(items) - 1, 0)
        for item in items:
            if isinstance(item, (str, bytes)):
                size += len(item)
                if size > budget.max_items:
                    break
        budget.grow(size, "join の結果")
        args = (items, *args[1:])
    return args, kwargs


def _translate(target, args, kwargs):
    table = args[0] if args else kwargs.get("table")
    values = table.values() if isinstance(table, dict) else table if isinstance(table, (list, tuple)) else ()
    longest = max((len(v) for v in values if isinstance(v, str)), default=1)
    if longest > 1:
        _budget().grow(len(target) * longest, "translate の結果")
    return args, kwargs


def _plus(n_of):
    def check(target, args, kwargs):
        budget = _budget()
        extra = 0
        new_args = []
        for arg in n_of(args):
            items = materialize(arg, budget)
            new_args.append(items)
            extra += len(items)
        extra += len(kwargs) if isinstance(target, dict) else 0
        budget.items(len(target) + extra, "要素の追加の結果")
        budget.grow(extra)
        return (tuple(new_args) if new_args else args), kwargs
    return check


def _one_more(target, args, kwargs):
    _budget().items(len(target) + 1, "要素の追加の結果")
    return args, kwargs


def _fromkeys(target, args, kwargs):
    if args:
        budget = _budget()
        items = materialize(args[0], budget)
        budget.grow(len(items), "fromkeys の結果")
        args = (items, *args[1:])
    return args, kwargs


def _to_bytes(target, args, kwargs):
    length = args[0] if args else kwargs.get("length", 1)
    if isinstance(length, int):
        _budget().grow(length, "to_bytes の結果")
    return args, kwargs


_all_args = lambda args: args  # noqa: E731
_PRE = {}
for _kind in (str, bytes):
    for _name in ("ljust", "rjust", "center", "zfill"):
        _PRE[_kind, _name] = _pad
    _PRE[_kind, "expandtabs"] = _expandtabs
    _PRE[_kind, "replace"] = _replace
    _PRE[_kind, "join"] = _join
_PRE[str, "translate"] = _translate
_PRE[list, "extend"] = _plus(_all_args)
_PRE[list, "append"] = _one_more
_PRE[list, "insert"] = _one_more
_PRE[dict, "update"] = _plus(_all_args)
_PRE[dict, "setdefault"] = _one_more
_PRE[dict, "fromkeys"] = _fromkeys
_PRE[set, "add"] = _one_more
for _name in ("update", "union", "symmetric_difference", "symmetric_difference_update"):
    _PRE[set, _name] = _plus(_all_args)
_PRE[int, "to_bytes"] = _to_bytes

# Called on the type, these take no instance first (dict.fromkeys(keys)).
_CLASS_METHODS = frozenset({"fromkeys", "maketrans", "fromhex", "from_bytes", "fromisoformat",
                            "fromordinal", "fromtimestamp", "combine", "strptime",
                            "fromisocalendar"})
_BASES = {str: str, bytes: bytes, list: list, tuple: tuple, dict: dict, set: set,
          frozenset: set, int: int, bool: int, float: float, date: date, datetime: datetime,
          timedelta: timedelta}


class _Method:
    __slots__ = ("method", "pre", "target", "unbound")

    def __init__(self, method, pre, target, unbound):
        self.method, self.pre, self.target, self.unbound = method, pre, target, unbound

    def __call__(self, *args, **kwargs):
        if self.pre is not None:
            if self.unbound:
                if args and isinstance(args[0], self.target):
                    rest, kwargs = self.pre(args[0], args[1:], kwargs)
                    args = (args[0], *rest)
            else:
                args, kwargs = self.pre(self.target, args, kwargs)
        result = self.method(*args, **kwargs)
        if isinstance(result, _NEW):
            _budget().grow(len(result), "メソッドの結果")
        elif type(result) is int:
            _int_result(result)
        return result

    def __repr__(self):
        return repr(self.method)


def attr(value, name: str):
    """``value.name`` in model code. Methods of the builtin types come back guarded."""
    if type(value) is GuardedType:
        value = value.type
    elif type(value) is _Method:
        value = value.method
    result = getattr(value, name)
    kind = type(value)
    base = _BASES.get(kind)
    if base is not None:
        if callable(result):
            return _Method(result, _PRE.get((base, name)), value, False)
    elif kind is type and value in _BASES:
        if callable(result):
            base = _BASES[value]
            if name in _CLASS_METHODS:
                return _Method(result, _PRE.get((base, name)), None, False)
            return _Method(result, _PRE.get((base, name)), value, True)
    return result


GUARDS = {
    "_kasane_iter": iterate, "_kasane_sized": sized,
    "_kasane_add": add, "_kasane_iadd": iadd, "_kasane_sub": sub, "_kasane_isub": isub,
    "_kasane_mul": mul, "_kasane_imul": imul, "_kasane_pow": power, "_kasane_ipow": ipow,
    "_kasane_mod": mod, "_kasane_imod": imod, "_kasane_or": bitor, "_kasane_ior": ibitor,
    "_kasane_xor": bitxor, "_kasane_ixor": ibitxor,
    "_kasane_attr": attr, "_kasane_slice": get_slice, "_kasane_setslice": set_slice,
    "_kasane_unpack": unpack, "_kasane_merge": merge, "_kasane_keywords": keywords,
    "_kasane_format": format_value,
}
