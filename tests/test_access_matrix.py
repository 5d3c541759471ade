"""The access matrix (tests/access_matrix.py) against the engine API and the CLI: every cell
gets its expected outcome, and no answer carries a personal value its cell may not see.

The world is built once per module; the cells only read it (writes are refused for their
data, claims released at once). Every cell runs against the engine API; the CLI runs one
cell of each (operation, outcome, what it may see) — the same code answers below it.
"""
from __future__ import annotations

import json
from collections import defaultdict

import pytest
from click.testing import CliRunner

from engine import cli, clock
from engine.api import Kasane
from engine.errors import KasaneError
from tests import access_matrix as matrix
from tests.conftest import ROOT

CELLS = matrix.cells()


@pytest.fixture(scope="module")
def world(module_database_url):
    kasane = Kasane(module_database_url)
    try:
        built = matrix.build_world(kasane, ROOT / "workflows")
    finally:
        kasane.close()
        clock.set_now(None)
    return module_database_url, built


def outcome_of(call) -> tuple[str, str]:
    try:
        return matrix.ALLOWED, json.dumps(call(), ensure_ascii=False, default=str)
    except KasaneError as exc:
        return matrix.OUTCOME_OF_ERROR.get(exc.kind, exc.kind), json.dumps(exc.to_dict(), ensure_ascii=False)


def check(cell, outcome: str, answer: str) -> list[str]:
    problems = []
    if outcome != cell.expected:
        problems.append(f"{cell.id}: {outcome} (expected {cell.expected}) {answer[:200]}")
    leaked = [text for text in cell.forbidden_texts() if text in answer]
    if leaked:
        problems.append(f"{cell.id}: the answer carries {leaked}")
    return problems


@pytest.mark.parametrize("operation", matrix.OPERATIONS)
def test_every_cell_through_the_engine_api(world, operation):
    url, built = world
    clock.set_now(built.run_on)
    kasane = Kasane(url)
    problems = []
    try:
        for cell in (c for c in CELLS if c.operation == operation):
            user = built.users[cell.profile]
            outcome, answer = outcome_of(lambda: matrix.api_call(kasane, built, operation, user))
            problems += check(cell, outcome, answer)
    finally:
        kasane.close()
    assert problems == []


def representative(cells):
    """One cell of each operation, outcome and set of what it may see."""
    chosen = {}
    for cell in cells:
        chosen.setdefault((cell.operation, cell.expected, cell.may_see), cell)
    return list(chosen.values())


def run_cli(url: str, args: list[str], now: str):
    cli._api = None
    result = CliRunner().invoke(cli.cli, ["--now", now, *args],
                                env={"KASANE_DATABASE_URL": url})
    if cli._api is not None:
        cli._api.close()
        cli._api = None
    return result


@pytest.mark.parametrize("operation", sorted(matrix.CLI_COMMANDS))
def test_representative_cells_through_the_cli(world, operation):
    url, built = world
    chosen = [c for c in representative(CELLS) if c.operation == operation]
    problems = []
    for cell in chosen:
        for args in matrix.cli_args(built, operation, built.users[cell.profile]):
            result = run_cli(url, args, built.run_on)
            assert "Traceback" not in result.stderr, result.stderr
            outcome = matrix.OUTCOME_OF_EXIT.get(result.exit_code, str(result.exit_code))
            problems += check(cell, outcome, result.stdout + result.stderr)
            if outcome != matrix.ALLOWED:
                break
    assert problems == []


def test_the_matrix_covers_every_profile_and_outcome():
    """Rows: roles × agencies × consent × attendance; each operation both allows and refuses."""
    profiles = {c.profile for c in CELLS}
    assert len(profiles) == len(matrix.ROLES) * (1 + len(matrix.KINDS) * 4) * 3
    outcomes = defaultdict(set)
    for cell in CELLS:
        outcomes[cell.operation].add(cell.expected)
    assert all(matrix.ALLOWED in found and len(found) > 1 for op, found in outcomes.items()
               if op != "search_cases"), outcomes
