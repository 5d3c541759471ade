"""Python's builtin types as model code sees them: calls and methods on a budget.

``list``, ``str``, ``dict`` ... in model code are :class:`GuardedType` wrappers whose
calls size what they would build first (``list(zip(*m))``, ``str(big_list)``), and every
attribute goes through :func:`attr`, which hands out methods of str, bytes, list, dict,
set, int and the date types wrapped: ``ljust``, ``zfill``, ``expandtabs``, ``replace``,
``join``, ``translate``, ``extend`` ... are checked before they run, and what any method
returns is counted. The wrappers themselves are never visible: attr() unwraps them.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta

from engine.budget import (CREATED, add, checked_int, current, iterate, materialize, size_of,
                           text_size)
from engine.limits import BudgetExceeded


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
        budget = current()
        items = materialize(iterable, budget)
        budget.grow(len(items), f"{kind.__name__}() の結果")
        return kind(items)
    return make


def _dict(*args, **kwargs):
    budget = current()
    if args:
        source = args[0] if isinstance(args[0], dict) else materialize(args[0], budget)
        budget.grow(len(source) + len(kwargs), "dict() の結果")
        return dict(source, *args[1:], **kwargs)
    budget.grow(len(kwargs), "dict() の結果")
    return dict(**kwargs)


def _str(*args, **kwargs):
    budget = current()
    if args and not isinstance(args[0], (str, int, float, bool)):
        budget.grow(text_size(args[0], budget.max_items), "str() の結果")
    result = str(*args, **kwargs)
    budget.grow(len(result), "str() の結果")
    return result


def _int(*args, **kwargs):
    text = args[0] if args else None
    if isinstance(text, (str, bytes, bytearray)):
        # Sized before Python converts it: past 4,300 digits Python refuses in English
        # (sys.set_int_max_str_digits), and below that the result may still be too big.
        # A lower bound of its bits: leading zeros, a prefix (0x) or underscores never count.
        core = (text.decode("latin-1") if not isinstance(text, str) else text).strip()
        digits = sum(1 for ch in core.lstrip("+-").lstrip("0_") if ch.isalnum()) - 2
        base = kwargs.get("base", args[1] if len(args) > 1 else 10)
        if digits > 0 and isinstance(base, int) and 2 <= base <= 36:
            current().int_bits(int(digits * math.log2(base)))
    try:
        return checked_int(int(*args, **kwargs))
    except ValueError as exc:
        if isinstance(exc, BudgetExceeded):
            raise
        raise ValueError(f"整数に変換できません（ValueError: {exc}）") from None


def guarded_round(number, ndigits=None):
    """round(123, -10**9) would compute 10**(10**9) first: it is 0 for any int that short."""
    if isinstance(number, int) and isinstance(ndigits, int) and ndigits < 0:
        if -ndigits > abs(number).bit_length() * 30103 // 100000 + 2:
            return 0
    return round(number, ndigits)


def guarded_range(*args):
    result = range(*args)
    size = size_of(result)
    current().items(size, "range")
    return result


def guarded_sorted(iterable, /, *, key=None, reverse=False):
    budget = current()
    items = materialize(iterable, budget)
    budget.grow(len(items), "sorted() の結果")
    return sorted(items, key=key, reverse=reverse)


def guarded_sum(iterable, /, start=0):
    if isinstance(start, (str, bytes)):
        return sum((), start)  # TypeError, as in Python
    if isinstance(start, (int, float, complex)):
        return checked_int(sum(iterable, start))
    result = start  # lists or tuples: add one at a time, each addition checked
    for item in iterate(iterable):
        result = add(result, item)
    return result


def guarded_zip(*iterables, strict=False):
    sizes = [size_of(it) for it in iterables]
    if all(size is not None for size in sizes):
        current().grow(min(sizes, default=0) * len(iterables), "zip() の結果")
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
    "round": guarded_round,
    "sorted": guarded_sorted,
    "sum": guarded_sum,
    "zip": guarded_zip,
}


# --- methods ---------------------------------------------------------------------------------

def _pad(target, args, kwargs):
    width = args[0] if args else kwargs.get("width")
    if isinstance(width, int) and width > len(target):
        current().grow(width, "文字列の幅")
    return args, kwargs


def _expandtabs(target, args, kwargs):
    size = args[0] if args else kwargs.get("tabsize", 8)
    if isinstance(size, int):
        tab = "\t" if isinstance(target, str) else b"\t"
        current().grow(len(target) + target.count(tab) * max(size, 0), "expandtabs の結果")
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
            current().grow(size, "replace の結果")
    return args, kwargs


def _join(target, args, kwargs):
    if args:
        budget = current()
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
        current().grow(len(target) * longest, "translate の結果")
    return args, kwargs


def _plus(target, args, kwargs):
    """extend, update, union ...: the container grows by everything it is given."""
    budget = current()
    args = tuple(materialize(arg, budget) for arg in args)
    extra = sum(len(arg) for arg in args) + (len(kwargs) if isinstance(target, dict) else 0)
    budget.items(len(target) + extra, "要素の追加の結果")
    budget.grow(extra)
    return args, kwargs


def _one_more(target, args, kwargs):
    current().items(len(target) + 1, "要素の追加の結果")
    return args, kwargs


def _fromkeys(target, args, kwargs):
    if args:
        budget = current()
        items = materialize(args[0], budget)
        budget.grow(len(items), "fromkeys の結果")
        args = (items, *args[1:])
    return args, kwargs


def _to_bytes(target, args, kwargs):
    length = args[0] if args else kwargs.get("length", 1)
    if isinstance(length, int):
        current().grow(length, "to_bytes の結果")
    return args, kwargs


_PRE = {}
for _kind in (str, bytes):
    for _name in ("ljust", "rjust", "center", "zfill"):
        _PRE[_kind, _name] = _pad
    _PRE[_kind, "expandtabs"] = _expandtabs
    _PRE[_kind, "replace"] = _replace
    _PRE[_kind, "join"] = _join
_PRE[str, "translate"] = _translate
_PRE[list, "extend"] = _plus
_PRE[list, "append"] = _one_more
_PRE[list, "insert"] = _one_more
_PRE[dict, "update"] = _plus
_PRE[dict, "setdefault"] = _one_more
_PRE[dict, "fromkeys"] = _fromkeys
_PRE[set, "add"] = _one_more
for _name in ("update", "union", "symmetric_difference", "symmetric_difference_update"):
    _PRE[set, _name] = _plus
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
        if isinstance(result, CREATED):
            current().grow(len(result), "メソッドの結果")
        elif type(result) is int:
            checked_int(result)
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
