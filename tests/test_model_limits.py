"""Models on the budget: lint of timers, loops and constants; run-time errors naming the element."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine import deployments, limits, timer_values
from engine.errors import InvalidInput
from engine.limits import BudgetExceeded
from tests.hostile import models

LANE_MODEL = Path(__file__).resolve().parent / "models" / "loop.bpmn"


def _lint(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return deployments.lint([tmp_path])["problems"]


@pytest.mark.parametrize(("slot", "text", "message"), [
    ("timeDuration", "40 + 2", 'タイマーの期間 (timeDuration)は ISO 8601 の期間を文字列（例: "P3D"）'
                               "で指定してください（値: 42）"),
    ("timeDuration", '"next week"', "タイマーの期間 (timeDuration)として読めません: 'next week'"
                                    '（ISO 8601 の期間、例えば "P3D" や "PT12H" にしてください）'),
    ("timeDate", "None", "タイマーの日時 (timeDate)がありません (None)"),
    ("timeDate", '"P3D"', "タイマーの日時 (timeDate)に期間や繰り返しは指定できません（値: 'P3D'）"),
    ("timeDuration", "P9999Y", "値が上限を超えています: タイマーの期間 (timeDuration) P9999Y: "
                               "タイマー・期限の期間が上限（100 年）を超えました（9,999 年）。"
                               "上限は KASANE_LIMIT_MAX_TIMER_YEARS で変えられます"),
    ("timeDate", "9999-12-31T23:00:00-05:00", "値が上限を超えています: タイマーの日時 (timeDate) "
                                              "9999-12-31T23:00:00-05:00: タイマー・期限の年が上限"
                                              "（2999 年）を超えました（9999 年）。上限は "
                                              "KASANE_LIMIT_MAX_YEAR で変えられます"),
    ("timeCycle", "R/PT0S", "繰り返しタイマー (timeCycle)の間隔が 0 です: 'R/PT0S'"
                            "（毎回すぐに発火してしまいます）"),
    ("timeCycle", "R5/P1D/2026-01-01", None),
    ("timeDate", "add_days(today(), 3)", None),
    ("dueDate", "P9999Y", "値が上限を超えています: 期限 (camunda:dueDate) P9999Y: タイマー・期限の"
                          "期間が上限（100 年）を超えました（9,999 年）。上限は "
                          "KASANE_LIMIT_MAX_TIMER_YEARS で変えられます"),
    ("dueDate", "0001-01-01", "値が上限を超えています: 期限 (camunda:dueDate) "
                              "0001-01-01: タイマー・期限の年が下限（1900 年）を"
                              "下回りました（1 年）。下限は KASANE_LIMIT_MIN_YEAR で変えられます"),
])
def test_lint_checks_constant_timer_and_due_date_values(tmp_path, slot, text, message):
    build, element, _ = models.SLOTS[slot]
    problems = _lint(tmp_path, build("p", text))
    expected = [{"file": "p.bpmn", "element": element, "message": message}] if message else []
    assert problems == expected


@pytest.mark.parametrize("text", ["R/-PT1M", "R-1/PT1H", "P-3D", "PT", "R/P", "-P1D", "p3d", "R3/P1D/",
                                  "P1.5.5D"])
@pytest.mark.parametrize("slot", ["timeDuration", "timeCycle", "timeDate", "dueDate"])
def test_lint_refuses_text_that_only_looks_like_iso_8601(tmp_path, slot, text):
    """Once read as Python over the names R and PT1M, and a NameError when a case opened."""
    build, element, _ = models.SLOTS[slot]
    [problem] = _lint(tmp_path, build("p", text))
    assert problem["element"] == element
    assert f"{text!r} は ISO 8601 の期間や繰り返しとして正しくありません" in problem["message"]


def test_plain_iso_and_expressions_are_not_near_misses():
    from engine.expressions import looks_like_iso
    assert not any(map(looks_like_iso, ["P3M", "R3/P1D", "R/PT1H", "PT12H", "2026-05-01",
                                        "R2/2026-05-01T09:00:00+09:00/P1D", "次回予定日",
                                        "add_days(today(), 3)", "期間", "'P3D'"]))


@pytest.mark.parametrize(("slot", "text", "element", "needle"), [
    ("loopCardinality", "10 ** 9", "m", "KASANE_LIMIT_MAX_INSTANCES"),
    ("loopCardinality", "[0] * 5000", "m", "（5,000 回）"),
    ("script", "c = 0\nfor i in range(10 ** 4):\n    for j in range(10 ** 4):\n"
               "        for k in range(10 ** 4):\n            c += 1", "s", "反復回数が上限"),
    ("script", "x = range(3)", "s", "保存できない値になります: x: range は保存できません"),
    ("dmnOutput", "1j", "cell", "保存できない値になります: 出力: 複素数"),
    ("dmnInput", "sum([1 for i in range(10 ** 5) for j in range(100)])", "cell", "反復回数が上限"),
])
def test_lint_runs_constants_on_the_budget(tmp_path, slot, text, element, needle):
    build, _, _ = models.SLOTS[slot]
    with limits.override(max_seconds=60):  # the step count must stop it, even when busy
        [problem] = _lint(tmp_path, build("p", text))
    assert problem["element"] == element and needle in problem["message"]


def test_lint_leaves_expressions_over_data_to_run_time(tmp_path):
    build, _, _ = models.SLOTS["script"]
    assert _lint(tmp_path, build("p", "c = 0\nfor i in range(n):\n    c += 1")) == []


def test_a_standard_loop_is_bounded_at_lint_and_at_run_time(tmp_path, kasane):
    body = ('<bpmn:scriptTask id="m" scriptFormat="python"><bpmn:standardLoopCharacteristics'
            ' {attrs}>{condition}</bpmn:standardLoopCharacteristics><bpmn:script>回 = 1'
            '</bpmn:script></bpmn:scriptTask>')
    capped = models._process("capped", models._through(body.format(
        attrs='loopMaximum="1000000000"', condition=""), "m"))
    [problem] = _lint(tmp_path, {"capped.bpmn": capped})
    assert problem["element"] == "m" and "KASANE_LIMIT_MAX_INSTANCES" in problem["message"]
    forever = models._process("forever", models._through(body.format(
        attrs="", condition="<bpmn:loopCondition>True</bpmn:loopCondition>"), "m"))
    (tmp_path / "capped.bpmn").unlink()
    (tmp_path / "forever.bpmn").write_text(forever, encoding="utf-8")
    kasane.deploy([tmp_path])
    kasane.deploy([LANE_MODEL])  # the lane 担当 makes the role known
    kasane.add_user("a", ["担当"])
    with pytest.raises(InvalidInput) as refused:
        kasane.open_case("forever", "a")
    assert refused.value.fields == {"element": "m", "process": "forever", "limit": "max_instances"}


def _deploy(kasane, tmp_path, slot, text="n"):
    build, _, _ = models.SLOTS[slot]
    for name, content in build("p", text).items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    kasane.deploy([tmp_path])
    kasane.deploy([LANE_MODEL])  # the lane 担当 makes the role known
    kasane.add_user("a", ["担当"])


@pytest.mark.parametrize(("slot", "value", "limit", "needle"), [
    ("timeDuration", "P9999Y", "max_timer_years", "（9,999 年）"),
    ("timeDuration", 42, None, "（値: 42）"),
    ("timeDate", None, None, "がありません (None)"),
    ("timeDate", "9999-12-31T23:00:00-05:00", "max_year", "（9999 年）"),
    ("timeCycle", "R/PT0S", None, "間隔が 0 です"),
    ("timeCycle", "R/PT1S", "min_cycle_seconds", "（1 秒）"),
])
def test_an_unusable_timer_value_at_run_time_names_the_timer(kasane, tmp_path, slot, value,
                                                               limit, needle):
    _deploy(kasane, tmp_path, slot)
    with pytest.raises(InvalidInput) as refused:
        kasane.open_case("p", "a", {"n": value})
    expected = {"element": "t", "process": "p", **({"limit": limit} if limit else {})}
    assert refused.value.fields == expected
    assert refused.value.message.startswith("パスウェイの実行中にエラーが発生しました（要素 t「待ち」）: ")
    assert needle in refused.value.message


def test_multi_instance_counts_are_refused_before_any_instance_exists(kasane, tmp_path):
    _deploy(kasane, tmp_path, "loopCardinality")
    started = time.process_time()
    with pytest.raises(InvalidInput) as refused:
        kasane.open_case("p", "a", {"n": 10 ** 9})
    assert time.process_time() - started < 1
    assert refused.value.fields == {"element": "m", "process": "p", "limit": "max_instances"}
    assert "（1,000,000,000 回）" in refused.value.message
    assert kasane.open_case("p", "a", {"n": 3})["status"] == "closed"


def test_a_failing_dmn_rule_names_the_task_and_the_row(kasane, tmp_path):
    build, _, _ = models.SLOTS["dmnInput"]
    files = build("p", "-")
    files["p.dmn"] = files["p.dmn"].replace(
        "</decisionTable>", '<rule id="second"><inputEntry id="bad"><text>&gt; 1 / n</text>'
        '</inputEntry><outputEntry id="o2"><text>"いいえ"</text></outputEntry></rule>'
        "</decisionTable>")
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    kasane.deploy([tmp_path])
    kasane.deploy([LANE_MODEL])  # the lane 担当 makes the role known
    kasane.add_user("a", ["担当"])
    with pytest.raises(InvalidInput) as refused:
        kasane.open_case("p", "a", {"n": 0, "値": 1})
    assert refused.value.fields == {"element": "r", "process": "p", "row": 2}
    assert "0 で割っています" in refused.value.message and "DMN の 2 行目" in refused.value.message


def test_a_due_date_names_its_task_and_the_reason(kasane, tmp_path):
    _deploy(kasane, tmp_path, "dueDate", "add_days(today(), n)")
    with pytest.raises(InvalidInput) as refused:
        kasane.open_case("p", "a", {"n": 10 ** 7})
    assert "「期限のある作業」" in refused.value.message
    assert "OverflowError" in refused.value.message or "範囲" in refused.value.message
    assert kasane.open_case("p", "a", {"n": 3})["tasks"][0]["due"] is not None


def test_timer_values_refuse_with_a_precise_reason():
    assert timer_values.instant("2026-05-01").isoformat() == "2026-05-01T00:00:00+00:00"
    assert timer_values.duration("P1Y2M3DT4H") == {"years": 1, "months": 2, "days": 3, "hours": 4}
    with pytest.raises(BudgetExceeded) as refused:
        timer_values.duration("P99999999999M")
    assert refused.value.limit == "max_timer_years"
    with pytest.raises(BudgetExceeded) as refused:
        timer_values.cycle("R/0001-01-01T00:00:00Z/P1D")
    assert refused.value.limit == "min_year"
    with pytest.raises(ValueError, match="期間や繰り返し"):
        timer_values.instant("R3/P1D")


def test_a_cycle_with_a_start_date_runs(kasane, tmp_path):
    # SpiffWorkflow's cycle parser checks isinstance(start, datetime) against the clock's
    # datetime class; engine.timers gives it one, so R/<start>/<duration> works.
    from engine import clock
    clock.set_now("2025-04-07T12:00:00+09:00")
    _deploy(kasane, tmp_path, "timeCycle", "R2/2025-04-08T09:00:00+09:00/P1D")
    opened = kasane.open_case("p", "a")
    assert opened["timers"] == [{"name": "待ち", "due": "2025-04-08T09:00:00+09:00",
                                 "element": "t"}]
    clock.set_now("2025-04-10T10:00:00+09:00")
    assert kasane.run_timers()["fired"] == 1


def test_evaluations_of_one_case_share_a_time_budget(kasane, tmp_path):
    # 200 instances, each a script within its own budget: together they would take
    # many seconds; the case's evaluation time (max_case_seconds) stops them.
    script = models.loop_cardinality("p", "200")["p.bpmn"].replace(
        "回 = 1", "c = 0\nfor i in range(100000):\n    c += 1")
    (tmp_path / "p.bpmn").write_text(script, encoding="utf-8")
    kasane.deploy([tmp_path])
    kasane.deploy([LANE_MODEL])  # the lane 担当 makes the role known
    kasane.add_user("a", ["担当"])
    with limits.override(max_case_seconds=1.0):
        started = time.monotonic()
        with pytest.raises(InvalidInput) as refused:
            kasane.open_case("p", "a")
    assert refused.value.fields["limit"] == "max_case_seconds"
    assert refused.value.fields["element"] == "m"
    assert time.monotonic() - started < 10
