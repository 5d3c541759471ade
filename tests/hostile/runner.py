"""Run corpus cases through the kasane CLI, one JSON line of outcome per case.

Started by tests/test_hostile.py in a subprocess whose address space is capped
(RLIMIT_AS) and which has a timeout, so a regression fails the test instead of taking
the machine down. Each case writes its model, then runs ``kasane lint`` (variant "lint") or ``kasane
deploy`` (which lints first) and ``kasane case open`` with the case data (variant
"run"). Commands run through
``engine.cli.main`` in this process (the same code, exit codes and JSON as the
``kasane`` command), except cases given as ``+CASE_ID``, which run ``python -m
engine.cli`` as a child process, exactly as an outside tool would.

Usage: python -m tests.hostile.runner DIR CASE_ID [+CASE_ID ...]   (+: as a child process)
(KASANE_DATABASE_URL and KASANE_NOW come from the environment.)
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.hostile.corpus import cases, text_for
from tests.hostile.models import SLOTS


def cli(args, child: bool) -> tuple[int, str, str]:
    if child:
        result = subprocess.run([sys.executable, "-m", "engine.cli", *args],
                                capture_output=True, text=True, timeout=60)
        return result.returncode, result.stdout, result.stderr
    from engine.cli import main
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def run_case(folder: Path, case_id: str, slot: str, variant: str, item, child: bool) -> dict:
    pid = "h_" + "".join(c if c.isalnum() else "_" for c in case_id)
    build, _, _ = SLOTS[slot]
    model_dir = folder / pid
    model_dir.mkdir()
    for name, text in build(pid, text_for(item, variant)).items():
        (model_dir / name).write_text(text, encoding="utf-8")
    outcome = {"case": case_id}
    if variant == "lint":
        code, out, err = cli(["lint", str(model_dir)], child)
        outcome["lint"] = {"code": code, "out": out, "err": err}
        return outcome
    code, out, err = cli(["deploy", str(model_dir)], child)  # lints first
    outcome["deploy"] = {"code": code, "out": out, "err": err}
    if code != 0:
        return outcome
    data = json.dumps({"n": item.n if variant == "run" else 1, "値": 1})
    code, out, err = cli(["case", "open", pid, "--as", "hostile", "--data", data], child)
    outcome["open"] = {"code": code, "out": out, "err": err}
    return outcome


def main(argv) -> None:
    folder = Path(argv[0])
    by_id = {case_id: (slot, variant, item) for case_id, slot, variant, item in cases()}
    cli(["users", "add", "hostile", "--role", "管理者"], False)  # roles are lanes; none yet
    for arg in argv[1:]:
        child = arg.startswith("+")
        case_id = arg.lstrip("+")
        print(json.dumps({"start": case_id}), flush=True)
        started, cpu = time.monotonic(), time.process_time()
        outcome = run_case(folder, case_id, *by_id[case_id], child=child)
        outcome["seconds"] = round(time.monotonic() - started, 2)
        outcome["cpu_seconds"] = round(time.process_time() - cpu, 2)
        print(json.dumps(outcome, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    os.environ.setdefault("KASANE_NOW", "2025-04-07")
    main([str(a) for a in sys.argv[1:]])
