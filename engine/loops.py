"""Multi-instance tasks and standard loops, held to ``max_instances`` (engine.limits).

A ``loopCardinality`` of 10**9 (or a collection of a million items) would have
SpiffWorkflow create every instance at once, and a standard loop without a maximum runs
a script task forever. The parser (engine.parsing) gives every such task spec one of the
subclasses below, which count the instances *before* SpiffWorkflow creates any, and stop
a standard loop at the limit. The refusal is a WorkflowTaskException carrying the task,
with ``reason`` and ``limit`` for engine.modelerrors.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import (ParallelMultiInstanceTask,
                                                                SequentialMultiInstanceTask,
                                                                StandardLoopTask)

from engine import limits
from engine.limits import BudgetExceeded


def _refuse(my_task, reason: str, limit: str | None = None, cause=None):
    error = WorkflowTaskException(reason, task=my_task, exception=cause)
    error.reason, error.limit = reason, limit
    raise error from cause


def check_count(value, my_task=None, what="多重インスタンスの数") -> int:
    """The number of instances a cardinality or collection asks for, if allowed."""
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            count = len(value)
        except TypeError:
            reason = f"{what}は 0 以上の整数かコレクションにしてください（値: {value!r:.60}）"
            if my_task is None:
                raise ValueError(reason) from None
            _refuse(my_task, reason)
    else:
        count = value
        if count < 0:
            reason = f"{what}は 0 以上の整数にしてください（値: {count}）"
            if my_task is None:
                raise ValueError(reason)
            _refuse(my_task, reason)
    allowed = limits.current().max_instances
    if count > allowed:
        exc = BudgetExceeded("max_instances", count, allowed)
        if my_task is None:
            raise exc
        _refuse(my_task, exc.reason, "max_instances", exc)
    return count


class ParallelBound:
    def create_children(self, my_task):
        if self.data_input is not None:
            if self.data_input.exists(my_task):
                check_count(self.data_input.get(my_task), my_task)
        else:
            check_count(my_task.workflow.script_engine.evaluate(my_task, self.cardinality), my_task)
        return super().create_children(my_task)


class SequentialBound:
    def add_next_child(self, my_task):
        data = my_task.internal_data
        if not data.get("merged"):  # before the first instance: the count is known now
            if self.data_input is not None:
                check_count(data.get("remaining", []), my_task)
            else:
                check_count(data.get("cardinality"), my_task)
        return super().add_next_child(my_task)


class StandardLoopBound:
    def create_child(self, my_task):
        done = len(my_task.internal_data.get("merged", []))
        allowed = limits.current().max_instances
        if self.maximum is not None and done == 0:
            check_count(self.maximum, my_task, "ループの最大回数 (loopMaximum)")
        if done >= allowed:
            exc = BudgetExceeded("max_instances", done + 1, allowed, "ループの繰り返し")
            _refuse(my_task, exc.reason, "max_instances", exc)
        return super().create_child(my_task)


_MIXINS = ((ParallelMultiInstanceTask, ParallelBound),
           (SequentialMultiInstanceTask, SequentialBound),
           (StandardLoopTask, StandardLoopBound))
_bounded: dict[type, type] = {}


def bounded(spec_class: type) -> type:
    """The subclass of a loop task spec class that keeps to max_instances."""
    if spec_class not in _bounded:
        mixin = next((m for base, m in _MIXINS if issubclass(spec_class, base)), None)
        _bounded[spec_class] = spec_class if mixin is None or issubclass(spec_class, mixin) \
            else type(spec_class.__name__, (mixin, spec_class), {"__module__": __name__})
    return _bounded[spec_class]


class LoopBoundsMixin:
    """For task parsers: the loop task spec a parser builds becomes a bounded one."""

    def _add_loop_task(self, loop_characteristics):
        super()._add_loop_task(loop_characteristics)
        self.task.__class__ = bounded(type(self.task))

    def _add_multiinstance_task(self, loop_characteristics):
        super()._add_multiinstance_task(loop_characteristics)
        self.task.__class__ = bounded(type(self.task))
