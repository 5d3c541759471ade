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
import threading
import weakref
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from time import monotonic
from typing import NamedTuple

from SpiffWorkflow.bpmn.script_engine.python_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import TaskDataEnvironment
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException

from engine import budget, clock, limits, safe_types, storable
from engine.clock import LOCAL_TZ
from engine.instrument import GUARDS, depth, instrument, is_slice_target
from engine.limits import BudgetExceeded


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


# --- the budget: see engine.limits (settings) and engine.budget (the guards) -------------

TooLarge = BudgetExceeded  # the name the first size guards used


class ModelCodeError(ValueError):
    """Model code failed the way Python code fails (a missing name, a division by zero).

    Every failure of model code is a ValueError: this one, UnsafeExpression,
    BudgetExceeded, or the ValueError a helper raises. ``error_class`` keeps Python's
    class name; ``__cause__`` is the original exception."""

    LABELS = {
        NameError: "名前が定義されていません",
        KeyError: "キーがありません",
        IndexError: "添字が範囲外です",
        ZeroDivisionError: "0 で割っています",
        TypeError: "値の型が合いません",
        AttributeError: "その属性やメソッドはありません",
        OverflowError: "数値が範囲を超えています",
        UnicodeError: "文字コードを変換できません",
    }

    def __init__(self, exc: BaseException):
        label = next((text for cls, text in self.LABELS.items() if isinstance(exc, cls)),
                     "式の実行に失敗しました")
        detail = str(exc)
        reason = f"{label}（{type(exc).__name__}: {detail}）" if detail else \
            f"{label}（{type(exc).__name__}）"
        super().__init__(reason)
        self.reason = reason
        self.error_class = type(exc).__name__


def _refusal(exc: Exception) -> Exception:
    """What evaluate/execute raise for an exception of model code."""
    if isinstance(exc, ValueError):
        return exc
    if isinstance(exc, RecursionError):
        return BudgetExceeded("max_data_depth", detail="入れ子が深すぎて処理できません")
    if isinstance(exc, MemoryError):
        return BudgetExceeded("max_allocation", detail="メモリが足りません")
    return ModelCodeError(exc)


SAFE_FUNCTIONS: dict[str, object] = {
    "len": len, "min": min, "max": max, "abs": abs, "any": any, "all": all,
    "float": float, "bool": bool, "enumerate": enumerate,
    **safe_types.BUILTINS,  # list, tuple, set, dict, str, int, range, round, sorted, sum, zip
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


def _in_source_order(tree: ast.AST) -> list:
    """All nodes, in source order and innermost first, so that the refusal named is the
    first one a reader meets. Nodes without a position (operators, contexts) take their
    parent's and follow it."""
    order, queue = [], [(tree, (0, 0, 0, 0))]
    for node, inherited in queue:  # breadth first; the list grows while it is read
        position = (node.lineno, node.col_offset, node.end_lineno, node.end_col_offset) \
            if hasattr(node, "lineno") else inherited
        order.append((position, len(order), node))
        queue.extend((child, position) for child in ast.iter_child_nodes(node))
    return [node for _, _, node in sorted(order, key=lambda item: item[:2])]


def _check_tree(tree: ast.AST, allowed: tuple) -> tuple[frozenset[str], frozenset[str]]:
    """Raise UnsafeExpression for the first construct outside the whitelist.

    Returns the names the source reads or writes (to spot task data that would hide a
    helper function) and the names it only reads (its free names: with none but the
    helpers, the source is constant and lint can run it)."""
    names, stored = set(), set()
    # A slice can be assigned only as the one target of a plain or augmented assignment.
    slice_targets = {id(n.targets[0]) for n in ast.walk(tree)
                     if isinstance(n, ast.Assign) and len(n.targets) == 1}
    slice_targets |= {id(n.target) for n in ast.walk(tree) if isinstance(n, ast.AugAssign)}
    for node in _in_source_order(tree):
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
            if isinstance(node.ctx, ast.Store):
                stored.add(node.id)
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
        elif (is_slice_target(node) and not isinstance(node.ctx, ast.Load)
              and id(node) not in slice_targets):
            raise UnsafeExpression("スライスへの代入は「x[a:b] = 値」の形でだけ使えます")
    return frozenset(names), frozenset(names - stored - set(SAFE_FUNCTIONS))


class Compiled(NamedTuple):
    code: object
    names: frozenset[str]  # every name the source reads or writes
    free: frozenset[str]   # names it reads and never assigns, helpers excluded


def _compile(source: str, mode: str) -> Compiled:
    current = limits.current()
    return _compile_within(source, mode, current.max_source_length, current.max_depth)


@functools.lru_cache(maxsize=2048)
def _compile_within(source: str, mode: str, max_length: int, max_depth: int) -> Compiled:
    """Parse, check, instrument and compile; nothing of the source runs here.

    Length and nesting are bounded before anything recursive sees the tree, so a model
    cannot crash the parser or the compiler with 3,000 unary minus signs."""
    if len(source) > max_length:
        raise BudgetExceeded("max_source_length", len(source), max_length)
    try:
        tree = ast.parse(source, mode=mode)
    except ValueError as exc:  # null bytes: report it like any other unparsable text
        raise SyntaxError(str(exc)) from None
    except (RecursionError, MemoryError):
        raise BudgetExceeded("max_depth", allowed=max_depth,
                             detail="入れ子が深すぎて読めません") from None
    levels = depth(tree, max_depth)
    if levels > max_depth:
        raise BudgetExceeded("max_depth", allowed=max_depth)
    names, free = _check_tree(tree, _EXPRESSION_NODES if mode == "eval" else _SCRIPT_NODES)
    try:
        # "<string>" is the filename Spiff looks for to report the failing script line.
        code = compile(instrument(tree), "<string>", mode)
    except (RecursionError, MemoryError, OverflowError):
        raise BudgetExceeded("max_depth", allowed=max_depth,
                             detail="式が複雑すぎてコンパイルできません") from None
    return Compiled(code, names, free)


def check_expression(source: str) -> None:
    _compile(source, "eval")


def check_script(source: str) -> None:
    _compile(source, "exec")


def free_names(source: str, mode: str = "eval") -> frozenset[str]:
    """The names a checked expression (mode "eval") or script ("exec") needs from outside."""
    return _compile(source, mode).free


def _globals(names: frozenset[str], context: dict, extra: dict | None) -> dict:
    # Task data wins over extra (as in Spiff: a data object read by the task is in
    # both); helpers win over both, so refuse data that would silently hide one.
    hidden = sorted(names & set(SAFE_FUNCTIONS) & set(context))
    if hidden:
        raise ValueError("タスクデータの名前が関数名と重なっています。"
                         f"名前を変えてください: {', '.join(hidden)}")
    return {**(extra or {}), **context, **SAFE_FUNCTIONS, **GUARDS, "__builtins__": {}}


def evaluate(source: str, context: dict, extra: dict | None = None):
    """The value of an expression, on a fresh budget.

    Raises SyntaxError, or a ValueError: UnsafeExpression, BudgetExceeded,
    ModelCodeError, or the ValueError of a helper."""
    compiled = _compile(source, "eval")
    scope = _globals(compiled.names, context, extra)
    with budget.running():
        try:
            return eval(compiled.code, scope)
        except Exception as exc:
            refusal = _refusal(exc)
            if refusal is exc:
                raise
            raise refusal from exc


_NOT_DATA = frozenset({"__builtins__", "__annotations__"})


def execute(source: str, context: dict, extra: dict | None = None) -> None:
    """Run a script on a fresh budget; the variables it assigns are written back into
    ``context``, once they are known to be storable. Raises as :func:`evaluate`."""
    compiled = _compile(source, "exec")
    extra = extra or {}
    scope = _globals(compiled.names, context, extra)
    with budget.running():
        try:
            exec(compiled.code, scope)
        except Exception as exc:
            refusal = _refusal(exc)
            if refusal is exc:
                raise
            raise refusal from exc
    results = {}
    for key, value in scope.items():
        if key in SAFE_FUNCTIONS or key in GUARDS or key in _NOT_DATA:
            continue
        if key in extra and key not in context and value is extra[key]:
            continue  # untouched external context is not task data
        results[key] = value
    # New or rebound values, and containers a script may have changed in place.
    storable.check_values({k: v for k, v in results.items() if not callable(v) and (
        k not in context or v is not context[k] or type(v) in (list, dict, set))})
    for key, value in results.items():
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


# Text made only of what ISO 8601 durations and repetitions are made of, with a P in it:
# when it is not a valid one (R/-PT1M, R-1/PT1H, P-3D, PT, -P1D), it is a mistyped value,
# not an expression over data names such as R and PT1M.
_ISO_LIKE = re.compile(r"[-+0-9RPTYMWDHSZ/:.,]*P[-+0-9RPTYMWDHSZ/:.,]*", re.IGNORECASE)


def looks_like_iso(text: str) -> bool:
    """True for text that can only have meant an ISO 8601 duration or repetition."""
    text = text.strip()
    return bool(_ISO_LIKE.fullmatch(text)) and not is_iso_literal(text)


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


def _short(source: str, width: int = 80) -> str:
    text = " ".join(source.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def _script_line(exc: BaseException) -> int | None:
    """The line of model code that raised, from the traceback of exc or its cause."""
    line = None
    for error in (exc, exc.__cause__):
        tb = error.__traceback__ if error is not None else None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<string>":
                line = tb.tb_lineno
            tb = tb.tb_next
        if line is not None:
            return line
    return None


class ExpressionFailed(WorkflowTaskException):
    """An expression or script of a model element failed or was refused at run time.

    Carries the element (``task``), the ``expression``, the Japanese ``reason`` and the
    ``limit`` (a setting name of engine.limits, or None). ``error_type`` is the class
    of the original error, as SpiffWorkflow reports it (``UnsafeExpression``,
    ``BudgetExceeded``, ``ZeroDivisionError`` ...)."""

    def __init__(self, task, source: str, exc: Exception, script: bool = False):
        self.expression = source
        self.reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
        self.limit = getattr(exc, "limit", None)
        element = task.task_spec.bpmn_id or task.task_spec.name
        line = _script_line(exc) if script else None
        lines = source.splitlines()
        error_line = lines[line - 1] if line and line <= len(lines) else None
        what = "スクリプト" if script else "式"
        where = f"（{line} 行目）" if line else ""
        super().__init__(f"要素 {element} の{what} {_short(source)!r}{where}を実行できません: "
                         f"{self.reason}", task=task, exception=exc, line_number=line,
                         error_line=error_line)
        self.error_type = getattr(exc, "error_class", None) or type(exc).__name__
        if isinstance(exc.__cause__, NameError):
            note = self.did_you_mean_from_name_error(exc.__cause__, list(task.data))
            if note:
                self.add_note(note.strip())


class RestrictedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine on the restricted evaluator.

    Failures of model code come out as :class:`ExpressionFailed`, which names the
    element and the reason (SpiffWorkflow's own message is only "Error evaluating
    expression")."""

    def __init__(self, environment=None):
        super().__init__(environment or RestrictedEnvironment())

    def validate(self, expression):
        # SyntaxError must propagate unchanged: DMNEngine.needs_eq retries `>= 90`
        # as `v >= 90` when it sees one.
        check_expression(expression)

    def evaluate(self, task, expression, external_context=None):
        try:
            with _case_clock(task):
                return self.environment.evaluate(expression, task.data, external_context)
        except SpiffWorkflowException as exc:
            exc.add_note(f"Error evaluating expression '{expression}'")
            raise
        except Exception as exc:
            raise ExpressionFailed(task, expression, exc) from exc

    def execute(self, task, script, external_context=None):
        try:
            with _case_clock(task):
                return self.environment.execute(script, task.data, external_context or {})
        except SpiffWorkflowException as exc:
            raise self.create_task_exec_exception(task, script, exc)
        except Exception as exc:
            raise ExpressionFailed(task, script, exc, script=True) from exc


# Evaluation time spent per loaded case (its top workflow object, which lives for one
# request): a thousand instances of a script, or a decision of a thousand rules, each
# within its own budget, must not add up to a hung worker.
_spent: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_spent_lock = threading.Lock()


@contextmanager
def _case_clock(task):
    workflow = task.workflow.top_workflow
    allowed = limits.current().max_case_seconds
    with _spent_lock:
        spent = _spent.get(workflow, 0.0)
    if spent >= allowed:
        raise BudgetExceeded("max_case_seconds", allowed=allowed)
    started = monotonic()
    token = budget.case_deadline.set(started + allowed - spent)
    try:
        yield
    finally:
        budget.case_deadline.reset(token)
        with _spent_lock:
            _spent[workflow] = spent + (monotonic() - started)
