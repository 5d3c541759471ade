"""README.md's "Walking a case by hand" works when pasted line by line into a POSIX shell.

The walk's shell block is run in ``sh`` at the top of the repository, each command checked
for exit status 0, on a database of its own (the walk creates it with ``mktemp``, which is
pointed at the test's temporary folder). Then the case must stand where the README says:
stage モニタリング with the モニタリング task due on 2025-09-12.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from engine.api import Kasane
from tests.conftest import ROOT

README = ROOT / "README.md"
WALK_HEADING = "## Walking a case by hand"


def walk_commands(text: str) -> list[str]:
    """The commands of the first ``sh`` block under the walk's heading, one per command."""
    section = text[text.index(WALK_HEADING):]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    commands, pending = [], ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append(pending + line)
        pending = ""
    assert not pending, "the walk ends in a continued line"
    return commands


def checked_script(commands: list[str]) -> str:
    """Each command followed by a check of its exit status, naming the command's number."""
    lines = []
    for number, command in enumerate(commands, start=1):
        lines.append(command)
        lines.append(f'status=$?; if [ "$status" -ne 0 ]; then echo "README walk: command {number}'
                     f' exited $status" >&2; exit 100; fi')
    return "\n".join(lines) + "\n"


def test_the_walk_is_found_and_has_no_placeholders():
    commands = walk_commands(README.read_text(encoding="utf-8"))
    assert len(commands) > 20
    assert all(c.startswith((".venv/bin/kasane ", "export ", "CASE=", "task() ")) for c in commands)
    joined = "\n".join(commands)
    assert "…" not in joined and "TASK_ID" not in joined and "jq" not in joined
    assert commands[0].startswith("export KASANE_DATABASE_URL=")


def test_the_docs_speak_in_the_repositorys_own_words():
    for path in (README, ROOT / "features" / "README.md"):
        text = path.read_text(encoding="utf-8")
        assert "/work/" not in text, path
        assert not re.search(r"domain(\.md)? ?§", text), path


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "kasane").exists(),
                    reason="the walk uses .venv/bin/kasane, as set up by the README")
def test_the_walk_runs_through_scenario_a_to_monitoring(tmp_path):
    commands = walk_commands(README.read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KASANE_")}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(["sh", "-c", checked_script(commands)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    failed = re.search(r"README walk: command (\d+) exited (\d+)", done.stderr)
    if failed:
        command = commands[int(failed.group(1)) - 1]
        pytest.fail(f"README walk: {shlex.quote(command)[:200]} exited {failed.group(2)}:\n"
                    f"{done.stderr[-2000:]}", pytrace=False)
    assert done.returncode == 0, done.stderr[-2000:]
    [database] = list(Path(tmp_path).rglob("walk.db"))
    kasane = Kasane(f"sqlite:///{database}")
    try:
        case = kasane.show_case(1)
    finally:
        kasane.close()
    assert (case["stage"], case["status"]) == ("モニタリング", "open")
    monitoring = [t for t in case["tasks"] if t["name"] == "モニタリング"]
    assert monitoring and monitoring[0]["due"].startswith("2025-09-12")
    completed = [h["name"] for h in case["history"] if h["kind"] == "task_completed"]
    assert completed[:3] == ["相談受付", "受理判断", "同意確認"]
    assert completed.count("アウトリーチ訪問記録") == 4 and completed.count("支援会議記録") == 2
    assert "プラン協議" in completed and completed.count("参加支援フォローアップ") == 2
