"""The restricted evaluator for expressions and scripts written inside models.

Gateway conditions, script tasks, timers and DMN cells are authored by whoever edits a
model, so they are checked against a whitelist of AST node types before they are ever
compiled. Anything not listed is refused with a Japanese reason the deploy code shows
next to the element id; the same check runs again at evaluation time so an expression
that skipped deployment cannot slip through.
"""
from __future__ import annotations

import ast
import calendar
import functools
import re
from datetime import date, datetime, timedelta

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment

from engine import clock
from engine.clock import LOCAL_TZ


class UnsafeExpression(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- date helpers: they read engine.clock so that tests and --now move them too ---

def _today() -> date:
    return clock.today()


def _now() -> datetime:
    # Japan time, so that `now().hour` means what a caseworker expects.
    return clock.now().astimezone(LOCAL_TZ)


def parse_date(value):
    """ISO text, date or datetime -> date in Japan time; None stays None."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"日付として読めません: {value!r}") from None
    if isinstance(value, datetime):  # before date: datetime is a subclass of date
        if value.tzinfo is not None:
            value = value.astimezone(LOCAL_TZ)
        return value.date()
    if isinstance(value, date):
        return value
    raise ValueError(f"日付として読めません: {value!r}")


def _require_date(value) -> date:
    if value is None:
        raise ValueError("日付がありません (None)")
    return parse_date(value)


def days_between(a, b) -> int:
    """b - a in whole days."""
    return (_require_date(b) - _require_date(a)).days


def add_days(d, n: int):
    # A datetime keeps its time of day; text becomes a date.
    base = d if isinstance(d, datetime) else _require_date(d)
    return base + timedelta(days=n)


def add_months(d, n: int):
    """Calendar months; 1月31日 + 1 month is the last day of February."""
    base = d if isinstance(d, datetime) else _require_date(d)
    index = base.year * 12 + base.month - 1 + int(n)
    year, month = divmod(index, 12)
    month += 1
    day = min(base.day, calendar.monthrange(year, month)[1])
    return base.replace(year=year, month=month, day=day)


_DAYS_DURATION = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?")


def duration_days(iso_duration: str) -> int:
    """P14D / P2W -> days. Months and years have no fixed length, so they are refused."""
    m = _DAYS_DURATION.fullmatch(iso_duration.strip().upper())
    if not m or not any(m.groups()):
        raise ValueError(f"日数の期間 (PnD / PnW) ではありません: {iso_duration!r}")
    return int(m.group(1) or 0) * 7 + int(m.group(2) or 0)


# --- size guards: a model must not be able to hang or exhaust a worker -------------------

MAX_ITEMS = 100_000        # elements of a range, or a repeated string or list
MAX_INT_BITS = 4_096       # about 1,200 decimal digits


class TooLarge(ValueError):
    pass


def _capped_range(*args):
    result = range(*args)
    if len(result) > MAX_ITEMS:
        raise TooLarge(f"range が大きすぎます（{len(result)} 件、上限 {MAX_ITEMS} 件）")
    return result


def _guarded_pow(base, exponent):
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 0:
        if abs(base) > 1 and (abs(base).bit_length() * exponent) > MAX_INT_BITS:
            raise TooLarge("べき乗の結果が大きすぎます")
    return base ** exponent


def _guarded_mul(left, right):
    for seq, count in ((left, right), (right, left)):
        if isinstance(seq, (str, bytes, list, tuple)) and isinstance(count, int):
            if len(seq) * count > MAX_ITEMS:
                raise TooLarge(f"繰り返しの結果が大きすぎます（上限 {MAX_ITEMS} 要素）")
    return left * right


class _Guard(ast.NodeTransformer):
    """Route ``**`` and ``*`` through the size guards, after the whitelist check passed.

    The guard names start with an underscore, which model text can never name itself.
    """

    def visit_BinOp(self, node):
        self.generic_visit(node)
        guard = {ast.Pow: "_kasane_pow", ast.Mult: "_kasane_mul"}.get(type(node.op))
        if guard is None:
            return node
        return ast.copy_location(
            ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right],
                     keywords=[]), node)

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        guard = {ast.Pow: "_kasane_pow", ast.Mult: "_kasane_mul"}.get(type(node.op))
        if guard is None:
            return node
        target = node.target
        load = ast.Name(id=target.id, ctx=ast.Load()) if isinstance(target, ast.Name) else \
            ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())
        call = ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[load, node.value],
                        keywords=[])
        return ast.copy_location(ast.Assign(targets=[target], value=call), node)


_GUARDS = {"_kasane_pow": _guarded_pow, "_kasane_mul": _guarded_mul}


SAFE_FUNCTIONS: dict[str, object] = {
    "len": len, "min": min, "max": max, "abs": abs, "round": round, "sum": sum,
    "sorted": sorted, "any": any, "all": all, "int": int, "float": float, "str": str,
    "bool": bool, "list": list, "dict": dict, "set": set, "tuple": tuple,
    "range": _capped_range, "enumerate": enumerate, "zip": zip,
    "today": _today, "now": _now, "parse_date": parse_date,
    "days_between": days_between, "add_days": add_days, "add_months": add_months,
    "duration_days": duration_days,
}

# --- the whitelist ---

_EXPRESSION_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.Store,
    ast.List, ast.Tuple, ast.Dict, ast.Set, ast.Starred, ast.Subscript, ast.Slice,
    ast.BoolOp, ast.And, ast.Or, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE,
    ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In, ast.NotIn,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.BitAnd, ast.BitOr, ast.BitXor,
    ast.UnaryOp, ast.Not, ast.USub, ast.UAdd, ast.Invert, ast.IfExp,
    ast.JoinedStr, ast.FormattedValue, ast.Call, ast.keyword, ast.Attribute,
    ast.ListComp, ast.SetComp, ast.DictComp, ast.comprehension,
)
_SCRIPT_NODES = _EXPRESSION_NODES + (
    ast.Module, ast.Expr, ast.Assign, ast.AugAssign, ast.AnnAssign,
    ast.If, ast.For, ast.Pass, ast.Break, ast.Continue,
)

# Precise reasons for the refusals people are likely to hit.
_REFUSED = {
    ast.Import: "import は使用できません",
    ast.ImportFrom: "import は使用できません",
    ast.Lambda: "ラムダ式は使用できません",
    ast.GeneratorExp: "ジェネレーター式は使用できません（リスト内包表記 [...] を使ってください）",
    ast.Yield: "yield は使用できません",
    ast.YieldFrom: "yield は使用できません",
    ast.Await: "await は使用できません",
    ast.FunctionDef: "関数定義 (def) は使用できません",
    ast.AsyncFunctionDef: "関数定義 (def) は使用できません",
    ast.ClassDef: "クラス定義 (class) は使用できません",
    ast.While: "while ループは使用できません（for を使ってください）",
    ast.Global: "global / nonlocal は使用できません",
    ast.Nonlocal: "global / nonlocal は使用できません",
    ast.Delete: "del は使用できません",
    ast.With: "with は使用できません",
    ast.AsyncWith: "with は使用できません",
    ast.Try: "例外処理 (try) は使用できません",
    ast.Raise: "raise は使用できません",
    ast.NamedExpr: "代入式 (:=) は使用できません",
    ast.Assert: "assert は使用できません",
    ast.Match: "match 文は使用できません",
}
if hasattr(ast, "TryStar"):  # Python 3.11+
    _REFUSED[ast.TryStar] = "例外処理 (try) は使用できません"

# str.format can walk attributes inside the format string; the rest reach frames and
# code objects; today/now on a date instance would read the real clock.
_DENIED_ATTRIBUTES = frozenset({
    "format", "format_map", "mro",
    "gi_frame", "gi_code", "gi_yieldfrom", "f_back", "f_globals", "f_locals",
    "f_builtins", "f_code", "tb_frame", "tb_next", "co_code", "cr_frame", "cr_code",
    "ag_frame", "ag_code",
    "today", "now", "utcnow", "from_file", "clear_cache",
})


# Never resolvable (builtins are empty) but refused by name, so a model that tries
# them gets a clear reason instead of a NameError at run time.
_DENIED_NAMES = frozenset({
    "getattr", "setattr", "delattr", "hasattr", "type", "vars", "dir", "eval", "exec",
    "open", "compile", "globals", "locals", "breakpoint", "help", "input", "object",
    "super", "memoryview", "print", "exit", "quit",
})


def _check_tree(tree: ast.AST, allowed: tuple) -> frozenset[str]:
    """Raise UnsafeExpression for the first construct outside the whitelist.

    Returns the names the source reads or writes, to spot task data that would hide a
    helper function."""
    names = set()
    for node in ast.walk(tree):
        if type(node) in _REFUSED:
            raise UnsafeExpression(_REFUSED[type(node)])
        if not isinstance(node, allowed):
            raise UnsafeExpression(f"使用できない構文です: {type(node).__name__}")
        if isinstance(node, ast.Name):
            if node.id.startswith("_") or node.id in _DENIED_NAMES:
                raise UnsafeExpression(f"使用できない名前です: {node.id}")
            if isinstance(node.ctx, ast.Store) and node.id in SAFE_FUNCTIONS:
                raise UnsafeExpression(f"関数名には代入できません: {node.id}")
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise UnsafeExpression(f"非公開の属性は使用できません: {node.attr}")
            if node.attr in _DENIED_ATTRIBUTES:
                raise UnsafeExpression(f"使用できない属性です: {node.attr}")
            if not isinstance(node.ctx, ast.Load):
                raise UnsafeExpression(f"属性には代入できません: {node.attr}")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id not in SAFE_FUNCTIONS:
                if func.id.startswith("_") or func.id in _DENIED_NAMES:
                    raise UnsafeExpression(f"使用できない名前です: {func.id}")
                raise UnsafeExpression(f"関数として呼び出せない名前です: {func.id}")
            elif not isinstance(func, (ast.Name, ast.Attribute)):
                raise UnsafeExpression("呼び出せるのは許可された関数とメソッドだけです")
        elif isinstance(node, ast.comprehension) and node.is_async:
            raise UnsafeExpression("async 内包表記は使用できません")
    return frozenset(names)


@functools.lru_cache(maxsize=2048)
def _compile(source: str, mode: str):
    try:
        tree = ast.parse(source, mode=mode)
    except ValueError as exc:  # null bytes: report it like any other unparsable text
        raise SyntaxError(str(exc)) from None
    names = _check_tree(tree, _EXPRESSION_NODES if mode == "eval" else _SCRIPT_NODES)
    tree = ast.fix_missing_locations(_Guard().visit(tree))
    # "<string>" is the filename Spiff looks for to report the failing script line.
    return compile(tree, "<string>", mode), names


def check_expression(source: str) -> None:
    _compile(source, "eval")


def check_script(source: str) -> None:
    _compile(source, "exec")


def _globals(names: frozenset[str], context: dict, extra: dict | None) -> dict:
    # Task data wins over extra (as in Spiff: a data object read by the task is in
    # both); helpers win over both, so refuse data that would silently hide one.
    hidden = sorted(names & set(SAFE_FUNCTIONS) & set(context))
    if hidden:
        raise ValueError("タスクデータの名前が関数名と重なっています。"
                         f"名前を変えてください: {', '.join(hidden)}")
    return {**(extra or {}), **context, **SAFE_FUNCTIONS, **_GUARDS, "__builtins__": {}}


def evaluate(source: str, context: dict, extra: dict | None = None):
    code, names = _compile(source, "eval")
    return eval(code, _globals(names, context, extra))


def execute(source: str, context: dict, extra: dict | None = None) -> None:
    """Run a script; the variables it assigns are written back into ``context``."""
    code, names = _compile(source, "exec")
    extra = extra or {}
    scope = _globals(names, context, extra)
    exec(code, scope)
    for key, value in scope.items():
        if key in SAFE_FUNCTIONS or key in _GUARDS or key in ("__builtins__", "__annotations__"):
            continue
        if key in extra and key not in context and value is extra[key]:
            continue  # untouched external context is not task data
        if callable(value):  # e.g. `f = len`: it would not survive serialising task data
            context.pop(key, None)
        else:
            context[key] = value


# --- timer literals ---

_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = (rf"P(?=[\dT])(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}W)?(?:{_NUM}D)?"
             rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?")
_DATETIME = (r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
             r"(?:Z|[+-]\d{2}:\d{2})?)?")
_ISO = re.compile(rf"{_DATETIME}|{_DURATION}|R\d*/(?:{_DATETIME}/{_DURATION}|"
                  rf"{_DURATION}/{_DATETIME}|{_DURATION})")
_DATETIME_PART = re.compile(_DATETIME)


def is_iso_literal(text: str) -> bool:
    """True for an unquoted ISO 8601 date, datetime, duration or recurring interval."""
    text = text.strip()
    if not _ISO.fullmatch(text):
        return False
    for part in text.split("/"):
        if _DATETIME_PART.fullmatch(part):
            try:  # the shape matches, but 2026-13-45 is still not a date
                datetime.fromisoformat(part.replace("Z", "+00:00"))
            except ValueError:
                return False
    return True


# --- SpiffWorkflow integration ---

class RestrictedEnvironment(TaskDataEnvironment):
    """Task data environment whose evaluate/execute go through the whitelist."""

    def evaluate(self, expression, context, external_context=None):
        return evaluate(expression, context, {**self.globals, **(external_context or {})})

    def execute(self, script, context, external_context=None):
        execute(script, context, {**self.globals, **(external_context or {})})
        return True


class RestrictedScriptEngine(PythonScriptEngine):
    def __init__(self, environment=None):
        super().__init__(environment or RestrictedEnvironment())

    def validate(self, expression):
        # SyntaxError must propagate unchanged: DMNEngine.needs_eq retries `>= 90`
        # as `v >= 90` when it sees one.
        check_expression(expression)
