"""The QA steps of issue 7 §9 are documented in features/README.md exactly as QA spells
them, and a feature file uses each (so each has a definition that runs)."""
from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

QA_STEPS = [
    '前提 "{機関}" の "{役割}" の利用者 "{名前}" がいる',
    'もし 利用者 "{名前}" が相談を受け付ける:',
    'もし 利用者 "{名前}" が "{タスク}" を完了する',
    'もし 利用者 "{名前}" が "{タスク}" を次の内容で完了する:',
    'もし 利用者 "{名前}" がケースに "{イベント}" を次の内容で記録する:',
    'ならば 利用者 "{名前}" はケースを見られる',
    'ならば 利用者 "{名前}" はケースを見られない',
    'ならば 利用者 "{名前}" には世帯員 "{氏名}" の情報が見える',
    'ならば 利用者 "{名前}" には世帯員 "{氏名}" の情報が見えない',
    'ならば ケースの閲覧記録に利用者 "{名前}" がある',
]
KEYWORDS = "(?:前提|もし|ならば|かつ|しかし) "
FEATURES = "\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "features").glob("*.feature")))


@pytest.mark.parametrize("step", QA_STEPS)
def test_each_qa_step_is_documented_and_used(step):
    assert f"`{step}`" in (ROOT / "features" / "README.md").read_text(encoding="utf-8")
    body = re.escape(step.split(" ", 1)[1])
    pattern = re.sub(r"\\\{[^}]+\\\}", '[^"]+', body)
    assert re.search(rf"^\s*{KEYWORDS}{pattern}\s*$", FEATURES, re.MULTILINE), step
