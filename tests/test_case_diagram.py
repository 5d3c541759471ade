"""case_diagram: the case's own pathway version and where the case is in it, for those who
see the whole case."""
from __future__ import annotations

import pytest

import forms
from engine import clock
from engine.errors import Forbidden, NotFound
from tests.conftest import ROOT

COORD = "相談支援コーディネーター"
INTAKE = "包括化推進員"


@pytest.fixture
def jusou(kasane):
    clock.set_now("2025-04-07")
    kasane.deploy([ROOT / "workflows"])
    kasane.add_agency("デモ市", "市福祉課")
    kasane.add_agency("福祉まるごと相談室", "福祉まるごと相談室")
    kasane.add_agency("よその包括", "地域包括支援センター")
    kasane.add_user("yamada", [INTAKE], "デモ市")
    kasane.add_user("tanaka", [COORD], "福祉まるごと相談室")
    kasane.add_user("ueda", [INTAKE], "よその包括")
    return kasane


def complete(kasane, summary, name, actor, **values):
    task = next(t for t in summary["tasks"] if t["name"] == name)
    return kasane.complete_task(task["task_id"], actor, {**forms.example_values(task["form"]), **values})


def test_the_diagram_names_each_process_file_the_current_task_and_the_kept_records(jusou):
    case = jusou.open_case("jusou", "yamada")
    case = complete(jusou, case, "相談受付", "yamada", 対応="多機関協働")
    shown = jusou.case_diagram(case["case_id"], actor="tanaka")
    assert shown["pathway"] == "jusou" and shown["version"] == 1
    assert shown["processes"]["jusou"] == {"file": "jusou.bpmn", "name": "重層的支援"}
    assert shown["processes"]["sanka_shien"]["file"] == "sanka_shien.bpmn"
    assert shown["processes"]["consented"]["file"] == "jusou.bpmn"  # embedded: the same file
    assert set(shown["files"]) == {"jusou.bpmn", "outreach.bpmn", "sanka_shien.bpmn"}
    assert "intake" in shown["completed"]["jusou"] and "acceptance" in shown["active"]
    [record] = [r for r in jusou.show_case(case["case_id"], actor="tanaka")["records"]]
    assert shown["records"] == {"intake": record["record_id"]}
    assert [t["element"] for t in shown["tasks"]] == ["acceptance"]


def test_support_meeting_records_are_linked_only_for_its_acknowledged_attendees(jusou):
    case = jusou.open_case("jusou", "yamada")
    case = complete(jusou, case, "相談受付", "yamada", 対応="多機関協働")
    case = complete(jusou, case, "受理判断", "tanaka", 判断="受理")
    case = complete(jusou, case, "同意確認", "tanaka", 同意="なし")
    meeting_task = next(t for t in case["tasks"] if t["name"] == "支援会議記録")
    complete(jusou, case, "支援会議記録", "tanaka")
    recorder = jusou.case_diagram(case["case_id"], actor="tanaka")["records"]
    receiving = jusou.case_diagram(case["case_id"], actor="yamada")["records"]
    assert meeting_task["element"] in recorder  # the secretariat attends and acknowledged
    assert meeting_task["element"] not in receiving
    assert "intake" in receiving


def test_the_diagram_is_refused_to_those_who_do_not_see_the_whole_case(jusou):
    case = jusou.open_case("jusou", "yamada")
    with pytest.raises(NotFound):
        jusou.case_diagram(case["case_id"], actor="ueda")
    case = complete(jusou, case, "相談受付", "yamada", 対応="多機関協働")
    case = complete(jusou, case, "受理判断", "tanaka", 判断="受理")
    complete(jusou, case, "同意確認", "tanaka", 同意="あり", 共有先=["よその包括"])
    assert jusou.show_case(case["case_id"], actor="ueda")["access"].startswith("consent:")
    with pytest.raises(Forbidden):  # a consent shows its member's records, not the pathway
        jusou.case_diagram(case["case_id"], actor="ueda")
