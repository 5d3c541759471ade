"""Only data that can be stored as JSON reaches the store.

Task data is dumped with SpiffWorkflow's JSON encoder (engine.state) and the case data
snapshot goes into a JSON column. Some Python values do not survive that, or survive it
only on one database: complex numbers, bytes, ranges, tuple keys, lists that contain
themselves, NaN and infinity (PostgreSQL refuses them in JSON, SQLite takes them),
integers too long to print, strings with lone surrogates. Some are storable but far too
large: a list of 100,000 references to one 1 MB string is 100 GB of JSON.

The walk here is iterative and bounded (depth ``max_data_depth``, serialized size
``max_state_bytes`` counting every reference each time it appears, integers
``max_int_bits``), so checking cannot itself blow up; it refuses with the path of the
first bad value (``記録[3]["日付"]``). Accepted: str, int, float, bool, None, list, tuple
and set (stored as lists), dict with str keys, date, datetime, timedelta, UUID; callables
are dropped on storing, as SpiffWorkflow does.
"""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from uuid import UUID

from SpiffWorkflow.util.task import TaskState

from engine import limits as _limits
from engine.errors import InvalidInput
from engine.limits import BudgetExceeded

_SCALAR_SIZES = {type(None): 4, bool: 5, date: 26, datetime: 60, timedelta: 40, UUID: 60}

_REFUSED_TYPES = {
    complex: "複素数 (complex) は保存できません",
    bytes: "バイト列 (bytes) は保存できません",
    bytearray: "バイト列 (bytearray) は保存できません",
    range: "range は保存できません（list(range(...)) にしてください）",
    frozenset: "frozenset は保存できません（list にしてください）",
}


class NotStorable(ValueError):
    """A value that cannot be stored; ``path`` says where it is (``記録[3]``)."""

    def __init__(self, path: str, reason: str, limit: str | None = None, keys: tuple = ()):
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = f"{path}: {reason}" if path else reason
        self.detail = reason
        self.limit = limit
        self.keys = keys  # the path as keys and list positions: ("記録", 3, "日付")


def _keys(node) -> tuple:
    parts = []
    while node is not None:
        node, key = node[0], node[1]
        parts.append(key)
    return tuple(reversed(parts))


def _render(node) -> str:
    """A path kept as (parent, key) links, rendered only when it is reported."""
    parts = list(_keys(node))
    if len(parts) > 12:  # a path 50 levels deep says no more than its ends
        parts = parts[:6] + ["…"] + parts[-4:]
    text = ""
    for key in parts:
        if key == "…":
            text += "…"
        elif isinstance(key, int):
            text += f"[{key}]"
        elif not text:
            text = str(key)
        else:
            text += f"[{key!r}]"
    return text


_CONTAINERS = (dict, list, tuple, set)


class Walker:
    """Checks values one after another against one shared size budget.

    Iterative, with only containers on the stack; ASCII strings and other scalars inside
    containers are sized in place. A list that contains itself has no end, so it shows
    up as a walk too deep: the path is then searched for the container itself."""

    def __init__(self, limits: _limits.Limits | None = None):
        self.limits = limits or _limits.current()
        self.total = 0
        # Non-ASCII strings count 3 bytes a character (UTF-8 of Japanese) as they are
        # met, and are encoded together once the walk is done, to find lone surrogates
        # (PostgreSQL refuses them). The walk holds them alive, so ids stay unique.
        self._pending: dict[int, tuple] = {}

    def _refuse(self, node, reason, limit=None):
        raise NotStorable(_render(node), reason, limit, _keys(node))

    def _over(self, node, limit, value=None):
        exc = BudgetExceeded(limit, value, getattr(self.limits, limit))
        self._refuse(node, exc.reason, limit)

    def _text(self, node, text: str) -> int:
        if text.isascii():
            return len(text) + 2
        self._pending[id(text)] = (node, text)
        return 3 * len(text) + 2

    def _encode_pending(self) -> None:
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            "".join(text for _, text in pending.values()).encode("utf-8")
        except UnicodeEncodeError:
            for node, text in pending.values():
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError:
                    self._refuse(node, "文字列に保存できない文字（サロゲート）が含まれています")

    def _leaf(self, node, item) -> int:
        """The size of anything but a list, tuple, set or dict."""
        kind = type(item)
        if kind is str:
            return self._text(node, item)
        if kind is int:
            if item.bit_length() > self.limits.max_int_bits:
                self._over(node, "max_int_bits", item.bit_length())
            return item.bit_length() * 30103 // 100000 + 2
        if kind is float:
            if not math.isfinite(item):
                self._refuse(node, "NaN や無限大の数値は保存できません")
            return 24
        if kind in _SCALAR_SIZES:
            return _SCALAR_SIZES[kind]
        if kind in _REFUSED_TYPES:
            self._refuse(node, _REFUSED_TYPES[kind])
        if callable(item):
            return 0  # dropped when stored, as SpiffWorkflow does
        self._refuse(node, f"{kind.__name__} 型の値は保存できません")

    def _too_deep(self, node, item):
        ancestor = node
        while ancestor is not None:
            if len(ancestor) == 3 and ancestor[2] is item:
                self._refuse(node, "自分自身を含むリストや辞書は保存できません")
            ancestor = ancestor[0]
        self._over(node, "max_data_depth", self.limits.max_data_depth + 1)

    def check(self, value, name) -> int:
        """Check one value; ``name`` starts its path. Returns its size in bytes."""
        start = self.total
        self._walk(value, (None, name))
        self._encode_pending()
        return self.total - start

    def check_data(self, data: dict) -> int:
        """Check task data or variables: each key starts a path of its own."""
        start = total = self.total
        pending = self._pending
        for key, value in data.items():
            if type(key) is not str:
                self._refuse(None, f"名前 {key!r:.40} は文字列ではありません")
            if key.isascii():
                total += len(key) + 3
            else:
                pending[id(key)] = ((None, key), key)
                total += 3 * len(key) + 3
            kind = type(value)
            if kind is str:
                if value.isascii():
                    total += len(value) + 2
                else:
                    pending[id(value)] = ((None, key), value)
                    total += 3 * len(value) + 2
            elif kind in _CONTAINERS:
                self.total = total
                self._walk(value, (None, key))
                total = self.total
            elif not callable(value):
                total += self._leaf((None, key), value)
        self.total = total
        if total > self.limits.max_state_bytes:
            self._over(None, "max_state_bytes")
        self._encode_pending()
        return total - start

    def _walk(self, value, root) -> None:
        total = self.total
        pending = self._pending
        cap, max_depth = self.limits.max_state_bytes, self.limits.max_data_depth
        stack = [(value, root, 1)]
        try:
            while stack:
                item, node, depth = stack.pop()
                kind = type(item)
                if kind not in _CONTAINERS:
                    total += self._leaf(node, item)
                    continue
                if depth > max_depth:
                    self._too_deep(node, item)
                total += 2 + len(item)
                if kind is dict:
                    for key, child in item.items():
                        if type(key) is not str:
                            self._refuse(node, f"辞書のキー {key!r:.40} は文字列ではありません"
                                               "（キーは文字列にしてください）")
                        if key.isascii():
                            total += len(key) + 3
                        else:
                            pending[id(key)] = (node, key)
                            total += 3 * len(key) + 3
                        if type(child) is str:
                            if child.isascii():
                                total += len(child) + 2
                            else:
                                pending[id(child)] = ((node, key), child)
                                total += 3 * len(child) + 2
                        elif type(child) in _CONTAINERS:
                            stack.append((child, (node, key, item), depth + 1))
                        else:
                            total += self._leaf((node, key), child)
                else:
                    for index, child in enumerate(item):
                        if type(child) is str:
                            if child.isascii():
                                total += len(child) + 2
                            else:
                                pending[id(child)] = ((node, index), child)
                                total += 3 * len(child) + 2
                        elif type(child) in _CONTAINERS:
                            stack.append((child, (node, index, item), depth + 1))
                        else:
                            total += self._leaf((node, index), child)
                if total > cap:
                    self._over(node, "max_state_bytes")
        finally:
            self.total = total
        if total > cap:
            self._over(root, "max_state_bytes")


def check_value(value, name: str = "値") -> int:
    return Walker().check(value, name)


def check_values(values: dict) -> int:
    """Check variables (a script's results, say), each named by its key."""
    return Walker().check_data(values)


def _workflows(workflow):
    yield workflow
    yield from workflow.subprocesses.values()


def check_workflow(workflow, since: float | None = None) -> int:
    """Check the data a case is about to store, against one budget: every process's
    data and data objects and every task's data; with ``since`` (a time.time() value,
    when the case was loaded), tasks whose state has not changed since then are skipped:
    SpiffWorkflow gives a task its data as its state changes, so theirs was checked when
    the case was last saved. READY tasks are always checked, since the engine fills in
    their data before it runs them. Raises InvalidInput naming the element and the path;
    returns the estimated size in bytes of what was checked."""
    walker = Walker()
    element = None
    try:
        for wf in _workflows(workflow):
            for task in wf.tasks.values():  # first, so a bad value is named where it arose
                if since is not None and task.last_state_change < since and \
                        not task.has_state(TaskState.READY):
                    continue
                element = task.task_spec.bpmn_id or task.task_spec.name
                walker.check_data(task.data)
            element = wf.spec.name
            walker.check_data(wf.data)
            walker.check_data(wf.data_objects)
    except NotStorable as exc:
        fields = {"element": element, "path": exc.path}
        if exc.limit:
            fields["limit"] = exc.limit
        raise InvalidInput(f"ケースのデータを保存できません（要素 {element}）: {exc.reason}",
                           fields) from exc
    return walker.total
