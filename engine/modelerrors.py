"""A model failing at run time, told in Japanese: which element, and why.

SpiffWorkflow reports a failing gateway condition, timer, DMN cell or due date as
"Error evaluating expression '…'", without the reason and sometimes without saying which
element. :func:`model_error` turns any exception that SpiffWorkflow raised while running
a model into :class:`engine.errors.InvalidInput` with a message such as

    パスウェイの実行中にエラーが発生しました（要素 gw_x「判定」）: 反復回数が上限（1,000,000 回）を超えました。…

and ``fields`` such as ``{"element": "gw_x", "process": "jusou", "limit": "max_iterations"}``
(``limit`` only when a budget of engine.limits was exceeded, ``row`` for a DMN rule).
"""
from __future__ import annotations

import re

from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.errors import InvalidInput
from engine.expressions import ExpressionFailed, ModelCodeError

_ROW = re.compile(r"\brow (\d+)")


def _cause(exc: BaseException) -> BaseException | None:
    """The first exception below SpiffWorkflow's own wrappers."""
    seen = 0
    current = exc.__cause__ or exc.__context__
    while current is not None and seen < 10:
        if not isinstance(current, SpiffWorkflowException):
            return current
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _reason(exc: BaseException) -> tuple[str, str | None]:
    if isinstance(exc, ExpressionFailed):
        return exc.reason, exc.limit
    cause = _cause(exc)
    if cause is None:
        text = str(exc.args[0]) if exc.args else type(exc).__name__
        return text, getattr(exc, "limit", None)
    if isinstance(cause, (ExpressionFailed, ModelCodeError)) or hasattr(cause, "reason"):
        return cause.reason, getattr(cause, "limit", None)
    if isinstance(cause, ValueError):
        return str(cause) or type(cause).__name__, getattr(cause, "limit", None)
    return ModelCodeError(cause).reason, None


def _notes(exc: BaseException) -> list[str]:
    return [*getattr(exc, "notes", []), *getattr(exc, "__notes__", [])]


def model_error(exc: Exception) -> InvalidInput:
    """InvalidInput for an exception raised while SpiffWorkflow ran a model."""
    task = getattr(exc, "task", None)
    spec = task.task_spec if task is not None else getattr(exc, "task_spec", None)
    reason, limit = _reason(exc)
    fields: dict = {}
    where = []
    if spec is not None:
        element = getattr(spec, "bpmn_id", None) or spec.name
        fields["element"] = element
        label = getattr(spec, "bpmn_name", None)
        where.append(f"要素 {element}" + (f"「{label}」" if label else ""))
    if task is not None:
        process = task.workflow.spec.name
        fields["process"] = process
        if task.workflow is not task.workflow.top_workflow:
            where.append(f"プロセス {process}")
    rows = [m.group(1) for note in _notes(exc) for m in [_ROW.search(note)] if m]
    if rows:
        fields["row"] = int(rows[0])
        where.append(f"DMN の {rows[0]} 行目")
    if limit:
        fields["limit"] = limit
    place = f"（{'、'.join(where)}）" if where else ""
    return InvalidInput(f"パスウェイの実行中にエラーが発生しました{place}: {reason}", fields)
