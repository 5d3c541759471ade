"""The task and event forms (forms/): registry, metadata, the §7 contract and validation."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from marshmallow import ValidationError, fields, validate

import forms
from engine.clock import set_now
from forms.base import FormSchema, JapanDate

REQUIRED = "必須項目です。"
NOT_A_CHOICE = "選択肢から選んでください。"
INVALID_DATE = "日付の形式が正しくありません（例: 2025-04-07）。"
UNKNOWN = "この項目はフォームにありません。"
from forms.base import WIDGETS

TASK_KEYS = [
    "相談受付", "ネットワーク対応記録", "受理判断", "同意確認", "支援会議記録", "アウトリーチ訪問記録",
    "アセスメント", "プラン作成", "再プラン作成", "プラン協議", "再プラン協議", "モニタリング", "終結協議",
    "中断協議", "参加支援マッチング", "参加支援フォローアップ", "フォローアップ確認", "連絡途絶の確認",
]
EVENT_KEYS = ["状況変化", "接触記録", "同意撤回", "再開連絡"]
ALL_KEYS = TASK_KEYS + EVENT_KEYS


@pytest.fixture
def clock():
    """Fix engine.clock for the test and always release it."""
    yield set_now
    set_now(None)


def load(key: str, **values):
    """Load the form's examples, overridden by ``values`` (None removes a field)."""
    payload = forms.example_values(key)
    for name, value in values.items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    return forms.get_form(key)().load(payload)


def refusal(key: str, **values) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        load(key, **values)
    return excinfo.value.messages


def all_fields(schema: type[FormSchema], prefix: str = ""):
    """(dotted name, field) for every field, descending into repeating rows."""
    for name, field in schema._declared_fields.items():
        yield prefix + name, field
        if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            yield from all_fields(field.inner.nested, f"{prefix}{name}.")


def choices_of(field) -> list | None:
    target = field.inner if isinstance(field, fields.List) else field
    for validator in target.validators:
        if isinstance(validator, validate.OneOf):
            return list(validator.choices)
    return None


# ---- registry ------------------------------------------------------------------------------


def test_registry_holds_every_task_and_event_form():
    assert set(forms.FORMS) == set(ALL_KEYS)
    assert len(forms.FORMS) == len(ALL_KEYS)
    for key, schema in forms.FORMS.items():
        assert issubclass(schema, FormSchema)
        assert schema.form_key == key
        assert forms.get_form(key) is schema
        assert schema.__name__.isascii()
    assert forms.get_form("存在しないフォーム") is None
    assert set(forms.EVENT_FORM_KEYS) == set(EVENT_KEYS)


def test_unknown_key_raises_for_examples_and_specs():
    with pytest.raises(KeyError):
        forms.example_values("存在しないフォーム")
    with pytest.raises(KeyError):
        forms.field_specs("存在しないフォーム")


@pytest.mark.parametrize("key", ALL_KEYS)
def test_examples_load_on_2025_04_07(key, clock):
    clock("2025-04-07")
    examples = forms.example_values(key)
    assert set(examples) == set(forms.get_form(key)._declared_fields)
    json.dumps(examples)  # JSON-ready as typed by a user
    forms.get_form(key)().load(examples)


@pytest.mark.parametrize("key", ALL_KEYS)
def test_loaded_data_is_task_data_and_dumps_back(key, clock):
    clock("2025-04-07")
    loaded = forms.get_form(key)().load(forms.example_values(key))

    def check(value):
        if isinstance(value, dict):
            for item in value.values():
                check(item)
        elif isinstance(value, list):
            for item in value:
                check(item)
        else:
            assert value is None or type(value) in (dt.date, str, bool, int), (key, value)

    check(loaded)
    assert forms.dump_json_ready(key, loaded) == forms.example_values(key)
    assert forms.get_form(key)().dump(loaded) == forms.example_values(key)


# ---- metadata ------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ALL_KEYS)
def test_every_field_has_label_widget_example(key):
    for name, field in all_fields(forms.get_form(key)):
        short = name.rsplit(".", 1)[-1]
        assert short.isidentifier(), name
        assert not any(ch in short for ch in "・ 　()（）/／"), name
        meta = field.metadata
        assert isinstance(meta.get("label"), str) and meta["label"], name
        assert meta.get("widget") in WIDGETS, name
        assert "example" in meta, name
        widget = meta["widget"]
        if widget in ("select", "multiselect"):
            assert meta["choices"] and meta["choices"] == choices_of(field), name
            examples = meta["example"] if widget == "multiselect" else [meta["example"]]
            assert set(examples) <= set(meta["choices"]), name
        else:
            assert "choices" not in meta, name
        expected_type = {
            "text": fields.String, "textarea": fields.String, "select": fields.String,
            "date": JapanDate, "checkbox": fields.Boolean, "number": fields.Integer,
            "multiselect": fields.List, "rows": fields.List, "agencies": fields.List,
        }[widget]
        assert isinstance(field, expected_type), name
        if not field.required and widget != "checkbox":
            assert field.allow_none, name
            assert field.load_default is not None or widget not in ("multiselect", "rows", "agencies"), name


# ---- the §7 contract ---------------------------------------------------------------------

DECIDING = [
    ("相談受付", "対応", ["自機関対応", "情報提供で終了", "ネットワーク対応", "多機関協働"]),
    ("ネットワーク対応記録", "結果", ["解決", "継続", "多機関協働へ"]),
    ("受理判断", "判断", ["受理", "差し戻し"]),
    ("同意確認", "同意", ["あり", "なし"]),
    ("支援会議記録", "合意事項", ["見守り", "アウトリーチ", "緊急対応", "参加支援検討"]),
    ("アウトリーチ訪問記録", "結果", ["接触できず", "面談", "同意取得"]),
    ("プラン協議", "結果", ["適切", "修正"]),
    ("再プラン協議", "結果", ["適切", "修正"]),
    ("モニタリング", "方向性", ["継続", "再プラン", "終結", "中断検討"]),
    ("終結協議", "判断", ["終結", "継続"]),
    ("中断協議", "判断", ["中断", "継続"]),
    ("参加支援フォローアップ", "状況", ["定着", "調整中", "終了"]),
    ("フォローアップ確認", "結果", ["問題なし", "再相談"]),
    ("接触記録", "方法", ["電話", "訪問", "連絡票", "関係者経由"]),
    ("接触記録", "結果", ["接触", "不在・応答なし", "消息不明"]),
]


@pytest.mark.parametrize(("key", "name", "values"), DECIDING)
def test_deciding_fields_and_values_are_exact(key, name, values):
    field = forms.get_form(key)._declared_fields[name]
    assert field.required
    assert choices_of(field) == values
    widget = "multiselect" if name == "合意事項" else "select"
    assert field.metadata["widget"] == widget


TYPED = [
    # key, field, widget, required
    ("受理判断", "助言", "textarea", False),
    ("支援会議記録", "次回予定日", "date", False),
    ("アウトリーチ訪問記録", "訪問日", "date", True),
    ("アウトリーチ訪問記録", "次回訪問日", "date", False),
    ("プラン作成", "モニタリング予定日", "date", False),
    ("プラン作成", "参加支援利用", "checkbox", False),
    ("プラン作成", "アウトリーチ利用", "checkbox", False),
    ("再プラン作成", "モニタリング予定日", "date", False),
    ("再プラン作成", "参加支援利用", "checkbox", False),
    ("再プラン作成", "アウトリーチ利用", "checkbox", False),
    ("モニタリング", "次回予定日", "date", False),
    ("終結協議", "本人意向確認", "checkbox", False),
    ("終結協議", "フォローアップ予定日", "date", False),
    ("終結協議", "フォローアップ回数", "number", False),
    ("終結協議", "フォローアップ間隔月数", "number", False),
    ("相談受付", "連携シート", "rows", False),
    ("ネットワーク対応記録", "連携シート", "rows", False),
    ("参加支援マッチング", "受け入れ先", "text", True),
    ("参加支援マッチング", "開始日", "date", True),
    ("連絡途絶の確認", "確認日", "date", True),
    ("連絡途絶の確認", "対応メモ", "textarea", False),
    ("状況変化", "内容", "textarea", True),
    ("状況変化", "日付", "date", False),
    ("接触記録", "日付", "date", True),
    ("同意撤回", "日付", "date", True),
    ("同意撤回", "理由", "textarea", True),
    ("再開連絡", "日付", "date", True),
    ("再開連絡", "内容", "textarea", True),
]


@pytest.mark.parametrize(("key", "name", "widget", "required"), TYPED)
def test_named_fields_have_their_type(key, name, widget, required):
    field = forms.get_form(key)._declared_fields[name]
    assert field.metadata["widget"] == widget
    assert field.required is required


def test_plan_rows_and_household_rows_are_nested_lists():
    for key, name in [("プラン作成", "支援内容"), ("再プラン作成", "支援内容"), ("アセスメント", "世帯員"),
                      ("アセスメント", "課題"), ("中断協議", "接触の試み")]:
        field = forms.get_form(key)._declared_fields[name]
        assert isinstance(field, fields.List) and isinstance(field.inner, fields.Nested), (key, name)
        assert not field.required


def test_optional_fields_load_empty_values(clock):
    clock("2025-04-07")
    data = load("プラン作成", 参加支援利用=None, 計画開始日="", 支援内容=None, 主担当機関="  ")
    assert data["参加支援利用"] is False
    assert data["計画開始日"] is None
    assert data["支援内容"] == []
    assert data["主担当機関"] is None
    assert load("アウトリーチ訪問記録", 次回訪問日=None)["次回訪問日"] is None


# ---- validation messages -----------------------------------------------------------------


@pytest.mark.parametrize("key", ALL_KEYS)
def test_missing_required_fields_say_required(key):
    schema = forms.get_form(key)
    required = {name for name, field in schema._declared_fields.items() if field.required}
    assert required
    with pytest.raises(ValidationError) as excinfo:
        schema().load({})
    assert excinfo.value.messages == {name: [REQUIRED] for name in required}


def test_blank_required_field_says_required(clock):
    clock("2025-04-07")
    assert refusal("相談受付", 氏名="") == {"氏名": [REQUIRED]}
    with pytest.raises(ValidationError) as excinfo:
        forms.get_form("相談受付")().load({**forms.example_values("相談受付"), "対応": None})
    assert excinfo.value.messages == {"対応": [REQUIRED]}


def test_wrong_choice_says_choose(clock):
    clock("2025-04-07")
    assert refusal("相談受付", 対応="多機関") == {"対応": [NOT_A_CHOICE]}
    assert refusal("支援会議記録", 合意事項=["見守り", "会食"]) == {"合意事項": {1: [NOT_A_CHOICE]}}
    rows = [{"日付": "2025-09-24", "方法": "手紙", "結果": "接触"}]
    assert refusal("中断協議", 接触の試み=rows) == {"接触の試み": {0: {"方法": [NOT_A_CHOICE]}}}


def test_wrong_types_have_japanese_messages(clock):
    clock("2025-04-07")
    assert refusal("プラン作成", 参加支援利用="たぶん") == {
        "参加支援利用": ["「はい」か「いいえ」で入力してください。"]
    }
    assert refusal("相談受付", 氏名=12) == {"氏名": ["文字で入力してください。"]}
    assert refusal("相談受付", 相談内容="介護") == {"相談内容": ["一覧（リスト）で入力してください。"]}
    assert refusal("アセスメント", 世帯員=[{"氏名": "重 一郎", "年齢": "五十三"}]) == {
        "世帯員": {0: {"年齢": ["整数で入力してください。"]}}
    }
    assert refusal("アセスメント", 世帯員=[{"氏名": "重 一郎", "年齢": -1}]) == {
        "世帯員": {0: {"年齢": ["0以上の数を入力してください。"]}}
    }
    assert refusal("アセスメント", 課題=["家計"]) == {"課題": {0: {"_schema": ["入力の形式が正しくありません。"]}}}
    assert refusal("同意確認", 同意日="2025/04/10") == {"同意日": [INVALID_DATE]}
    assert refusal("同意確認", 同意日="2025-02-30") == {"同意日": [INVALID_DATE]}


def test_unknown_field_is_refused(clock):
    clock("2025-04-07")
    assert refusal("接触記録", 備考欄="x") == {"備考欄": [UNKNOWN]}
    rows = [{"日付": "2025-09-24", "方法": "訪問", "結果": "接触", "担当": "鈴木"}]
    assert refusal("中断協議", 接触の試み=rows) == {"接触の試み": {0: {"担当": [UNKNOWN]}}}
    with pytest.raises(ValidationError) as excinfo:
        forms.get_form("接触記録")().load(["not", "a", "dict"])
    assert excinfo.value.messages == {"_schema": ["入力の形式が正しくありません。"]}


def test_base_class_translates_plain_fields_and_keeps_explicit_messages():
    class Probe(FormSchema):
        分類 = fields.String(required=True, validate=validate.OneOf(["甲", "乙"]))
        件数 = fields.Integer(required=True, error_messages={"required": "件数を入れてください。"})
        日 = fields.Date()

    assert Probe().load({"分類": "甲", "件数": 1}) == {"分類": "甲", "件数": 1}
    with pytest.raises(ValidationError) as excinfo:
        Probe().load({"日": "x"})
    assert excinfo.value.messages == {
        "分類": [REQUIRED], "件数": ["件数を入れてください。"], "日": [INVALID_DATE]
    }
    with pytest.raises(ValidationError) as excinfo:
        Probe().load({"分類": "丙", "件数": 1})
    assert excinfo.value.messages == {"分類": [NOT_A_CHOICE]}
    # the class-level fields keep marshmallow's own messages (nothing global was changed)
    assert fields.String().error_messages["required"] == "Missing data for required field."


# ---- cross-field rules -------------------------------------------------------------------


def test_monitoring_form_leaves_the_continue_rule_to_the_model(clock):
    # 継続 needs a 次回予定日: a case rule in workflows/monitoring_rules.dmn, not in the form
    clock("2025-09-12")
    assert load("モニタリング", 方向性="継続", 次回予定日=None)["次回予定日"] is None
    assert load("モニタリング", 方向性="継続", 次回予定日="2025-09-13")["次回予定日"] == dt.date(2025, 9, 13)
    assert load("モニタリング", 方向性="終結", 次回予定日=None)["次回予定日"] is None


@pytest.mark.parametrize("direction", ["継続", "再プラン", "終結", "中断検討"])
@pytest.mark.parametrize("next_date", ["2025-09-11", "2025-09-12"])
def test_monitoring_next_date_is_after_today_whatever_the_direction(clock, direction, next_date):
    clock("2025-09-12")
    assert refusal("モニタリング", 方向性=direction, 次回予定日=next_date) == {
        "次回予定日": ["次回予定日は今日より後の日付にしてください。"]
    }


@pytest.mark.parametrize("key", ["プラン作成", "再プラン作成"])
def test_plan_monitoring_date_must_be_after_today(key, clock):
    clock("2025-06-13")
    message = {"モニタリング予定日": ["モニタリング予定日は今日より後の日付にしてください。"]}
    assert refusal(key, モニタリング予定日="2025-06-13") == message
    assert refusal(key, モニタリング予定日="2025-06-01") == message
    assert load(key, モニタリング予定日="2025-06-14")["モニタリング予定日"] == dt.date(2025, 6, 14)
    # empty: the plan agreement takes settings.dmn's 既定モニタリング月数
    assert load(key, モニタリング予定日=None)["モニタリング予定日"] is None
    assert forms.get_form(key)().load({**forms.example_values(key), "モニタリング予定日": ""})[
        "モニタリング予定日"] is None


def test_today_is_japan_time(clock):
    clock("2025-06-12T23:30:00+00:00")  # 2025-06-13 08:30 in Japan
    assert refusal("プラン作成", モニタリング予定日="2025-06-13")


# ---- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2025-06-12T23:30:00+00:00", dt.date(2025, 6, 13)),
        ("2025-06-12T23:30:00Z", dt.date(2025, 6, 13)),
        ("2025-06-13T08:30:00+09:00", dt.date(2025, 6, 13)),
        ("2025-06-12T23:30:00", dt.date(2025, 6, 12)),
        ("2025-06-13", dt.date(2025, 6, 13)),
        (dt.datetime(2025, 6, 12, 23, 30, tzinfo=dt.timezone.utc), dt.date(2025, 6, 13)),
        (dt.date(2025, 6, 13), dt.date(2025, 6, 13)),
    ],
)
def test_dates_are_read_in_japan_time(typed, expected, clock):
    clock("2025-04-07")
    data = load("接触記録", 日付=typed)
    assert data["日付"] == expected and type(data["日付"]) is dt.date
    assert forms.dump_json_ready("接触記録", data)["日付"] == expected.isoformat()


# ---- field specs -------------------------------------------------------------------------


def test_field_specs_of_no_contact_warning():
    assert forms.field_specs("連絡途絶の確認") == [
        {"name": "確認日", "label": "確認日", "widget": "date", "required": True, "choices": None,
         "example": "2025-10-10"},
        {"name": "対応メモ", "label": "対応メモ", "widget": "textarea", "required": False, "choices": None,
         "example": "10/22に訪問し、連絡票を置く。"},
    ]


def test_field_specs_follow_declaration_order_with_rows():
    specs = forms.field_specs("中断協議")
    assert [spec["name"] for spec in specs] == [
        "会議日", "最終接触日", "接触の試み", "中断理由", "判断", "見守り継続先", "再開条件"
    ]
    decision = specs[4]
    assert decision == {"name": "判断", "label": "判断", "widget": "select", "required": True,
                        "choices": ["中断", "継続"], "example": "中断"}
    attempts = specs[2]
    assert attempts["widget"] == "rows"
    assert [row["name"] for row in attempts["fields"]] == ["日付", "方法", "結果"]
    assert attempts["example"] == [{"日付": "2025-09-24", "方法": "訪問", "結果": "不在・応答なし"}]
    json.dumps(specs)


def test_replan_keeps_plan_order_and_own_examples():
    names = [spec["name"] for spec in forms.field_specs("再プラン作成")]
    plan_names = [spec["name"] for spec in forms.field_specs("プラン作成")]
    assert names[: len(plan_names)] == plan_names
    assert names[len(plan_names):] == ["変更理由", "現プランの評価"]
    assert forms.example_values("再プラン作成")["モニタリング予定日"] == "2025-12-01"


def test_examples_are_copies():
    forms.example_values("支援会議記録")["合意事項"].append("緊急対応")
    assert forms.example_values("支援会議記録")["合意事項"] == ["見守り", "アウトリーチ"]


# ---- checkboxes, choices and labels a caseworker reads --------------------------------------


@pytest.mark.parametrize(("typed", "expected"), [
    ("はい", True), ("いいえ", False), (True, True), (False, False), ("true", True), ("false", False)])
def test_checkboxes_take_the_labels_as_well_as_booleans(typed, expected, clock):
    clock("2025-04-07")
    assert load("プラン作成", 参加支援利用=typed)["参加支援利用"] is expected
    assert load("終結協議", 本人意向確認=typed)["本人意向確認"] is expected


def test_field_of_intake_follows_the_comprehensive_consultation_fields():
    # あわら市 実施計画 第4章: 包括化推進員 from 高齢, 介護, 障害, 子ども and 生活困窮
    field = forms.get_form("相談受付")._declared_fields["受付分野"]
    assert choices_of(field) == ["高齢", "介護", "障害", "子ども", "生活困窮", "その他"]


def test_labels_and_choices_say_what_they_mean():
    def spec(key, name):
        return next(s for s in forms.field_specs(key) if s["name"] == name)

    assert spec("相談受付", "同意")["label"] == "個人情報の取扱いへの同意"
    assert spec("相談受付", "性別")["choices"] == ["男性", "女性", "その他"]
    assert spec("同意確認", "情報範囲")["choices"][0] == "基本情報"
    assert "基本情報" in spec("同意確認", "情報範囲")["example"]
    member = next(s for s in spec("アセスメント", "世帯員")["fields"] if s["name"] == "障害手帳")
    assert member["choices"] == ["なし", "申請中", "身体", "療育", "精神"]
    assert forms.example_values("相談受付")["住所"].startswith("あわら市")


def test_linkage_sheet_rows_name_referral_reason_consent_and_what_was_shared(clock):
    clock("2025-04-07")
    for key in ("相談受付", "ネットワーク対応記録"):
        sheet = next(s for s in forms.field_specs(key) if s["name"] == "連携シート")
        assert [f["name"] for f in sheet["fields"]] == [
            "紹介日", "紹介元", "紹介先", "紹介理由", "本人の同意", "共有した情報"]
        assert load(key)["連携シート"][0]["紹介元"] == "地域包括支援センター"
    assert load("相談受付")["連携シート"][0]["紹介先"] == "福祉まるごと相談室"
    assert load("相談受付", 連携シート=[])["連携シート"] == []
    assert refusal("ネットワーク対応記録", 連携シート=[{"紹介元": "地域包括支援センター"}]) == {
        "連携シート": {0: {"紹介先": [REQUIRED]}}}



@pytest.mark.parametrize("key", [k for k, f in forms.FORMS.items() if f.meeting is not None])
def test_a_meeting_declaration_names_fields_of_its_form(key):
    form = forms.get_form(key)
    spec, declared = form.meeting, form._declared_fields
    named = [spec.date, spec.attendees, spec.agencies, *spec.minutes, spec.agreements,
             spec.next_date, spec.local_name, spec.link, spec.when]
    assert {name for name in named if name} <= set(declared)
    if spec.attendees:
        row = declared[spec.attendees].inner.nested._declared_fields
        attendee = spec.attendee
        assert {attendee.name, attendee.affiliation, attendee.user, attendee.acknowledged} <= set(row)
