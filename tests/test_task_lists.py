"""The inbox's list of tasks through the engine API: the newest-first order with its cursor,
one task as the list shows it, and the stages a list can be filtered by."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from engine import clock
from engine.api import TaskFilter
from engine.errors import InvalidInput
from tests.conftest import MODELS, ROOT

COORD = "相談支援コーディネーター"


@pytest.fixture
def sample(kasane):
    clock.set_now("2025-04-07")
    kasane.deploy([MODELS / "sample.bpmn"])
    # Two agencies of a kind the model's referral (福祉まるごと相談室) does not reach.
    kasane.add_agency("包括A", "地域包括支援センター")
    kasane.add_agency("包括B", "地域包括支援センター")
    kasane.add_user("tanaka", [COORD], "包括A")
    kasane.add_user("sato", [COORD], "包括B")
    return kasane


def open_cases(kasane, count, actor="tanaka"):
    """Cases opened a minute apart, so that each task has its own creation time."""
    opened = []
    for _ in range(count):
        opened.append(kasane.open_case("sample", actor)["case_id"])
        clock.advance(timedelta(minutes=1))
    return opened


def test_the_newest_tasks_come_first_and_page_with_their_cursor(sample):
    opened = open_cases(sample, 5)
    first = sample.list_tasks(actor="tanaka", wanted=TaskFilter(order="newest", limit=2))
    rest = sample.list_tasks(actor="tanaka", wanted=TaskFilter(order="newest", limit=10,
                                                               after=first[-1]["cursor"]))
    assert [t["case_id"] for t in first + rest] == opened[::-1]
    due_first = sample.list_tasks(actor="tanaka", wanted=TaskFilter(limit=10))
    assert [t["case_id"] for t in due_first] == opened  # due 7 days after opening: oldest first


def test_newest_first_keeps_the_filters_and_the_policy(sample):
    mine, other = open_cases(sample, 1), open_cases(sample, 1, actor="sato")
    assert [t["case_id"] for t in sample.list_tasks(actor="sato", wanted=TaskFilter(order="newest"))] == other
    task = sample.list_tasks(actor="tanaka", wanted=TaskFilter(order="newest"))[0]
    sample.claim_task(task["task_id"], "tanaka")
    assert [t["case_id"] for t in sample.list_tasks(
        actor="tanaka", wanted=TaskFilter(order="newest", mine=True))] == mine
    assert sample.list_tasks(actor="tanaka", wanted=TaskFilter(order="newest", overdue=True)) == []
    clock.set_now("2025-04-20")
    late = sample.list_tasks(actor="tanaka", wanted=TaskFilter(order="newest", overdue=True, stage="多機関協働"))
    assert [t["case_id"] for t in late] == mine


def test_an_unknown_order_is_refused(sample):
    with pytest.raises(InvalidInput, match="並び順"):
        sample.list_tasks(actor="tanaka", wanted=TaskFilter(order="name"))


def test_one_task_as_the_list_shows_it_and_only_to_those_who_see_it(sample):
    case_id, = open_cases(sample, 1)
    task = sample.list_tasks(actor="tanaka")[0]
    sample.claim_task(task["task_id"], "tanaka")
    found = sample.list_tasks(actor="tanaka", wanted=TaskFilter(task_id=task["task_id"]))
    assert [(t["case_id"], t["claimed_by"], t["name"]) for t in found] == [(case_id, "tanaka", "受理判断")]
    assert sample.list_tasks(actor="sato", wanted=TaskFilter(task_id=task["task_id"])) == []
    assert sample.list_tasks(actor="tanaka", wanted=TaskFilter(task_id="x" * 100)) == []


def test_the_newest_first_order_reads_an_index(sample):
    """A page must not sort every open task (P5): SQLite walks an index in that order."""
    if not sample.url.startswith("sqlite"):
        pytest.skip("the plan is SQLite's")
    with sample.reading() as session:
        plan = " ".join(row[-1] for row in session.execute(text(
            "EXPLAIN QUERY PLAN SELECT id FROM human_tasks WHERE state = 'open' AND role = :role "
            "ORDER BY created_at DESC, id DESC LIMIT 50"), {"role": COORD}))
    assert "ix_human_tasks_newest_role" in plan and "TEMP B-TREE" not in plan


def test_the_stages_of_the_deployed_pathways_in_model_order(kasane):
    assert kasane.task_stages() == []
    kasane.deploy([ROOT / "workflows"])
    stages = kasane.task_stages()
    assert stages[:3] == ["受け止め", "ネットワーク対応", "多機関協働"]
    assert {"アセスメント", "モニタリング", "終結協議"} <= set(stages) and len(stages) == len(set(stages))
