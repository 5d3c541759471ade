"""Budgets for work that a model can cause: documented settings, not constants in code.

Each limit has a default and can be set per installation with an environment variable
``KASANE_LIMIT_<NAME>`` (the field name in capitals), read once per process.
"""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Limits:
    # One case, one step (a completion, an event, or its turn in the timer sweep).
    case_seconds: float = 10.0        # wall-clock time for running the case's engine steps
    engine_steps: int = 10_000        # engine tasks (scripts, gateways…) before a wait state
    timer_rounds: int = 100           # rounds of due timers fired in one step
    # The timer sweep: a failing case waits before it is tried again, doubling each time.
    retry_seconds: float = 300.0      # the first wait
    retry_max_seconds: float = 86_400.0


class LimitSettingError(ValueError):
    pass


@functools.lru_cache(maxsize=1)
def current() -> Limits:
    values = {}
    for field in fields(Limits):
        raw = os.environ.get(f"KASANE_LIMIT_{field.name.upper()}")
        if raw is None:
            continue
        try:
            value = float(raw) if isinstance(field.default, float) else int(raw)
        except ValueError:
            raise LimitSettingError(f"KASANE_LIMIT_{field.name.upper()} は数値で指定してください: "
                                    f"{raw!r}") from None
        if value <= 0:
            raise LimitSettingError(f"KASANE_LIMIT_{field.name.upper()} は正の数にしてください: "
                                    f"{raw!r}")
        values[field.name] = value
    return Limits(**values)
