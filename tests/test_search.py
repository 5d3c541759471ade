"""Case search by 氏名 / ふりがな: partial match on an index, under the access policy, paged."""
from __future__ import annotations

import pytest

import forms
from engine import clock, households
from engine.errors import InvalidInput
from tests.conftest import ROOT


@pytest.fixture
def world(kasane):
    clock.set_now("2025-04-07")
    kasane.deploy([ROOT / "workflows"])
    kasane.add_agency("包括A", "地域包括支援センター")
    kasane.add_agency("包括B", "地域包括支援センター")
    kasane.add_user("a", ["包括化推進員"], "包括A")
    kasane.add_user("b", ["包括化推進員"], "包括B")
    kasane.add_user("boss", ["管理者"], "包括A")
    return kasane


def intake(kasane, actor, name, kana):
    case = kasane.open_case("jusou", actor)
    data = {**forms.example_values("相談受付"), "氏名": name, "ふりがな": kana, "対応": "自機関対応"}
    kasane.complete_task(case["tasks"][0]["task_id"], actor, data)
    return case["case_id"]


def test_partial_names_and_kana_find_only_the_cases_a_user_may_see(world):
    first = intake(world, "a", "重 花子", "カサネ ハナコ")
    second = intake(world, "a", "山田 花子", "やまだ はなこ")
    intake(world, "b", "重 一郎", "かさね いちろう")  # another agency's case
    assert [h["case_id"] for h in world.search_cases("花子", actor="a")] == [second, first]
    assert [h["case_id"] for h in world.search_cases("かさね", actor="a")] == [first]  # katakana kept
    assert [h["氏名"] for h in world.search_cases("ハナコ", actor="a")] == ["山田 花子", "重 花子"]
    assert world.search_cases("重", actor="a")[0]["case_id"] == first  # one character: a scan
    assert [h["氏名"] for h in world.search_cases("かさね", actor="b")] == ["重 一郎"]
    assert world.search_cases("花子", actor="boss") == []  # 管理者: statistics, not case files
    assert len(world.search_cases("花子")) == 2  # the operator


def test_search_pages_with_a_cursor_and_refuses_bad_input(world):
    ids = [intake(world, "a", f"佐藤 花子{n}", "さとう はなこ") for n in range(5)]
    page = world.search_cases("さとう", actor="a", limit=2)
    rest = world.search_cases("さとう", actor="a", limit=10, after=page[-1]["cursor"])
    assert [h["case_id"] for h in page + rest] == sorted(ids, reverse=True)
    with pytest.raises(InvalidInput):
        world.search_cases("  ", actor="a")
    with pytest.raises(InvalidInput):
        world.search_cases("さとう", actor="a", after="x-y")


def test_a_renamed_member_is_found_by_the_new_name_only(world):
    case_id = intake(world, "a", "重 花子", "かさね はなこ")
    with world.transaction() as session:
        households.upsert(session, case_id, "重 花江", principal=True)
    assert world.search_cases("花子", actor="a") == []
    assert [h["氏名"] for h in world.search_cases("花江", actor="a")] == ["重 花江"]


def test_full_names_are_found_the_same_way_as_parts(world):
    """Four characters or more take another plan on PostgreSQL (trigram indexes): the
    answers, the policy, the escaping and the paging stay the same."""
    own = intake(world, "a", "山田 一郎", "やまだ いちろう")
    sister = intake(world, "a", "山田 花子", "やまだ はなこ")
    intake(world, "b", "山田 一郎", "やまだ いちろう")  # another agency's case
    odd = intake(world, "a", "佐藤 100%_一郎", "さとう いちろう")
    assert [h["case_id"] for h in world.search_cases("山田 一郎", actor="a")] == [own]
    assert [h["case_id"] for h in world.search_cases("ヤマダ イチロウ", actor="a")] == [own]
    assert [h["case_id"] for h in world.search_cases("やまだ", actor="a")] == [sister, own]
    assert len(world.search_cases("やまだいちろう")) == 2  # the operator sees both agencies'
    assert world.search_cases("山田 一郎", actor="boss") == []
    assert [h["case_id"] for h in world.search_cases("100%_一", actor="a")] == [odd]
    assert world.search_cases("1000%", actor="a") == []  # % and _ are letters, not wildcards
    assert world.search_cases("100x_一", actor="a") == []
    ids = [intake(world, "a", f"佐藤 はなこ{n}", "さとう はなこ") for n in range(5)]
    page = world.search_cases("さとうはなこ", actor="a", limit=2)
    rest = world.search_cases("さとうはなこ", actor="a", limit=10, after=page[-1]["cursor"])
    assert [h["case_id"] for h in page + rest] == sorted(ids, reverse=True)
