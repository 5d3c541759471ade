"""The budget model code runs on: one set of limits, each a documented setting.

A manager's model is untrusted, so every expression and script, every multi-instance
task, every timer value and every case state is held to these limits. Each has a default
here and can be changed with an environment variable ``KASANE_LIMIT_<NAME>`` (for
example ``KASANE_LIMIT_MAX_ITERATIONS=2000000``), read once by :func:`current`. Going over
a limit raises :class:`BudgetExceeded`, whose Japanese message names the limit.
"""
from __future__ import annotations

import dataclasses
import os
import threading
from contextlib import contextmanager
from dataclasses import dataclass

from engine.errors import InvalidInput

ENV_PREFIX = "KASANE_LIMIT_"


@dataclass(frozen=True)
class Limits:
    max_iterations: int = 1_000_000     # loop and comprehension steps per evaluation
    max_seconds: float = 2.0            # wall-clock time per evaluation
    max_case_seconds: float = 10.0      # time all evaluations of one loaded case take together
    max_items: int = 100_000            # items or characters of any one created value
    max_allocation: int = 2_000_000     # items and characters created by one evaluation
    max_int_bits: int = 4_096           # about 1,233 decimal digits
    max_depth: int = 100                # nesting of one expression or script (AST levels)
    max_source_length: int = 20_000     # characters of one expression or script
    max_data_depth: int = 50            # nesting of stored data (lists and dicts)
    max_state_bytes: int = 4_000_000    # serialized size of a case's data, all tasks together
    max_elements: int = 1_000           # flow elements of one process, subprocesses included
    max_instances: int = 1_000          # instances of a multi-instance task or loop
    max_timer_years: int = 100          # longest timer or due-date duration
    min_year: int = 1900                # earliest year of a timer or due date
    max_year: int = 2999                # latest year of a timer or due date
    min_cycle_seconds: int = 60         # shortest interval of a cycle timer
    max_engine_steps: int = 10_000      # engine steps (scripts, gateways …) before a wait state
    max_timer_rounds: int = 100         # rounds of due timers fired in one step
    # The timer sweep: a failing case waits before it is tried again, doubling each time.
    retry_seconds: float = 300.0        # the first wait
    retry_max_seconds: float = 86_400.0  # the longest wait


# (label, unit, "上限" or "下限") for the Japanese messages.
LABELS: dict[str, tuple[str, str, str]] = {
    "max_iterations": ("反復回数", "回", "上限"),
    "max_seconds": ("評価にかかる時間", "秒", "上限"),
    "max_case_seconds": ("1回のケース処理で式の評価にかかる時間の合計", "秒", "上限"),
    "max_items": ("作られる値の大きさ", "要素", "上限"),
    "max_allocation": ("1回の評価で作られる値の合計", "要素", "上限"),
    "max_int_bits": ("整数の大きさ", "ビット", "上限"),
    "max_depth": ("式の入れ子の深さ", "段", "上限"),
    "max_source_length": ("式・スクリプトの長さ", "文字", "上限"),
    "max_data_depth": ("データの入れ子の深さ", "段", "上限"),
    "max_state_bytes": ("保存するデータの大きさ", "バイト", "上限"),
    "max_elements": ("プロセスの要素数", "個", "上限"),
    "max_instances": ("繰り返し（多重インスタンス・ループ）の数", "回", "上限"),
    "max_timer_years": ("タイマー・期限の期間", "年", "上限"),
    "min_year": ("タイマー・期限の年", "年", "下限"),
    "max_year": ("タイマー・期限の年", "年", "上限"),
    "min_cycle_seconds": ("繰り返しタイマーの間隔", "秒", "下限"),
    "max_engine_steps": ("待ち状態に達するまでのステップ数", "ステップ", "上限"),
    "max_timer_rounds": ("続けて発火するタイマーの回数", "回", "上限"),
    "retry_seconds": ("失敗したケースを再び試すまでの待ち時間", "秒", "下限"),
    "retry_max_seconds": ("失敗したケースを再び試すまでの待ち時間", "秒", "上限"),
}

NAMES = tuple(f.name for f in dataclasses.fields(Limits))
assert set(NAMES) == set(LABELS)


def env_name(limit: str) -> str:
    return ENV_PREFIX + limit.upper()


def _number(value, limit: str = "") -> str:
    if limit.endswith("_year"):
        return str(value)
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,}"
    if isinstance(value, (int, float)):
        return f"{int(value):,}"
    return str(value)


class BudgetExceeded(ValueError):
    """Model code or a model value went over one limit.

    ``limit`` is the setting's name (``max_iterations``), ``value`` what was asked for
    when it is known (``10**9`` items), ``allowed`` the limit in force.
    """

    def __init__(self, limit: str, value=None, allowed=None, detail: str | None = None):
        if allowed is None:
            allowed = getattr(current(), limit)
        label, unit, bound = LABELS[limit]
        verb = "を下回りました" if bound == "下限" else "を超えました"
        message = f"{label}が{bound}（{_number(allowed, limit)} {unit}）{verb}"
        if value is not None:
            message += f"（{_number(value, limit)} {unit}）"
        if detail:
            message = f"{detail}: {message}"
        message += f"。{bound}は {env_name(limit)} で変えられます"
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.allowed = allowed
        self.reason = message


class LimitSettingError(InvalidInput):
    """An environment variable KASANE_LIMIT_* that is not a valid setting."""


def from_environ(environ) -> Limits:
    """Limits from KASANE_LIMIT_* variables; anything unknown or not a positive number
    is refused with the variable's name, so a typo never silently keeps a default."""
    changes = {}
    defaults = Limits()
    for key, text in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in LABELS:
            known = "、".join(env_name(n) for n in NAMES)
            raise LimitSettingError(f"不明な上限設定です: {key}（使える名前: {known}）",
                                    {"setting": key})
        kind = type(getattr(defaults, name))
        try:
            value = kind(text.strip().replace(",", "").replace("_", ""))
        except ValueError:
            value = None
        if value is None or not value > 0 or value != value:
            what = "正の数" if kind is float else "正の整数"
            raise LimitSettingError(f"環境変数 {key} の値 {text!r} は{what}ではありません。",
                                    {"setting": key})
        changes[name] = value
    limits = dataclasses.replace(defaults, **changes)
    if limits.min_year > limits.max_year:
        raise LimitSettingError(f"{env_name('min_year')} が {env_name('max_year')} より大きくなっています。",
                                {"setting": env_name("min_year")})
    if not (1 <= limits.min_year and limits.max_year <= 9998):
        raise LimitSettingError(f"{env_name('min_year')} と {env_name('max_year')} は 1〜9998 の範囲"
                                "で指定してください。", {"setting": env_name("max_year")})
    return limits


_current: Limits | None = None
_lock = threading.Lock()


def current() -> Limits:
    """The limits in force: read from the environment once per process."""
    global _current
    limits = _current
    if limits is None:
        with _lock:
            if _current is None:
                _current = from_environ(os.environ)
            limits = _current
    return limits


def reload() -> Limits:
    """Read the environment again (tests that change KASANE_LIMIT_* call this)."""
    global _current
    with _lock:
        _current = from_environ(os.environ)
        return _current


@contextmanager
def override(**changes):
    """Run with some limits changed, process-wide (tests)."""
    global _current
    previous = current()
    _current = dataclasses.replace(previous, **changes)
    try:
        yield _current
    finally:
        _current = previous
