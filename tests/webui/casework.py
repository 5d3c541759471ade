"""Cases driven through the engine API for the case page tests: the people of the web
tests, and a 重層的支援 case walked to where a test needs it (domain §6 scenario A's
household, with the forms' example values for everything a step does not name)."""
from __future__ import annotations

import forms

INTAKE = "包括化推進員"
COORD = "相談支援コーディネーター"
DAY = "2025-04-07"  # the day the forms' examples were written for
# Agencies beside tests/webui/conftest.AGENCIES: one with no part in the case, a partner
# a consent may name, and an outreach provider the pathway assigns visits to.
OTHER_AGENCIES = {"よその地域包括": "地域包括支援センター", "協力相談支援機関": "自立相談支援機関",
                  "まちのアウトリーチ": "アウトリーチ事業者"}


def add_agencies(kasane) -> None:
    known = {a["agency"] for a in kasane.list_agencies()}
    for name, kind in OTHER_AGENCIES.items():
        if name not in known:
            kasane.add_agency(name, kind)


def complete(kasane, case: dict, name: str, actor: str, **values) -> dict:
    """Complete the case's open task ``name`` with the example values and ``values``."""
    task = next(t for t in case["tasks"] if t["name"] == name)
    data = {**forms.example_values(task["form"]), **values}
    return kasane.complete_task(task["task_id"], actor, data)


def referred(kasane, worker: str) -> dict:
    """A consultation the worker received and referred to 多機関協働 (受理判断 is open)."""
    case = kasane.open_case("jusou", worker)
    return complete(kasane, case, "相談受付", worker, 対応="多機関協働")


def before_consent(kasane, worker: str, coordinator: str) -> dict:
    """Accepted, without consent: the case is in 同意前支援 with its 支援会議記録 open."""
    case = referred(kasane, worker)
    case = complete(kasane, case, "受理判断", coordinator, 判断="受理")
    return complete(kasane, case, "同意確認", coordinator, 同意="なし")


def consented(kasane, worker: str, coordinator: str, **consent) -> dict:
    """Accepted with 本人's consent (``consent`` overrides the 同意確認 values)."""
    case = referred(kasane, worker)
    case = complete(kasane, case, "受理判断", coordinator, 判断="受理")
    return complete(kasane, case, "同意確認", coordinator, **{"同意": "あり", **consent})


def supporting(kasane, worker: str, coordinator: str) -> dict:
    """Consented, assessed, planned and agreed: 支援実施 with the monitoring date waiting."""
    case = consented(kasane, worker, coordinator)
    for step in ("アセスメント", "プラン作成", "プラン協議"):
        case = complete(kasane, case, step, coordinator)
    return case
