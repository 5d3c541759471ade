"""Intake forms: 相談受付, ネットワーク対応記録, 受理判断, 同意確認, and the 連携シート rows."""
from __future__ import annotations

from forms.base import (
    AGENCIES,
    FIELDS_OF_SUPPORT,
    SCOPES,
    ConsentFields,
    FormSchema,
    MeetingFields,
    Person,
    agencies,
    checkbox,
    date,
    multiselect,
    rows,
    select,
    text,
)

CONSULTATION_TOPICS = [
    "病気・健康・障害",
    "住まい",
    "収入・生活費",
    "家賃・ローン",
    "税・公共料金",
    "債務",
    "仕事探し",
    "仕事上の不安",
    "地域との関係",
    "家族との関係",
    "子育て",
    "介護",
    "ひきこもり・不登校",
    "DV・虐待",
    "食べるものがない",
    "その他",
]


class LinkageSheetRow(FormSchema):
    """連携シート: one agency handing a case to another (秋田県社協 トータルケア 4(2)③).

    A row is written when a case is handed to 多機関協働 (相談受付, ネットワーク対応記録) and
    when the lead agency brings another agency in during ネットワーク対応: who refers to whom,
    why, whether the person agreed, and what was shared.
    """

    紹介日 = date("紹介日", "2025-04-07")
    紹介元 = select("紹介元", AGENCIES, "地域包括支援センター", required=True)
    紹介先 = select("紹介先", AGENCIES, "福祉まるごと相談室", required=True)
    紹介理由 = text("紹介理由", "介護と長男のひきこもり・滞納が重なり、機関の役割整理が必要なため。", long=True)
    本人の同意 = select("本人の同意（情報の共有）", ["あり", "なし"], "あり")
    共有した情報 = multiselect("共有した情報", SCOPES, ["基本情報", "介護", "家計"])


class IntakeForm(FormSchema):
    """相談受付票 (domain §3). 対応 decides D1."""

    form_key = "相談受付"
    title = "相談受付票"
    principal = Person(name="氏名", kana="ふりがな", relation_value="本人", birth_date="生年月日")

    受付日 = date("受付日", "2025-04-07", required=True)
    受付者 = text("受付者", "地域包括支援センター 山田", required=True)
    受付分野 = select("受付分野", FIELDS_OF_SUPPORT, "介護", required=True)
    相談方法 = select("相談方法", ["来所", "電話", "訪問", "メール", "FAX"], "電話")
    把握経路 = select(
        "把握経路",
        ["本人", "家族・知人", "地域住民", "民生委員", "関係機関紹介", "会議", "アウトリーチ"],
        "民生委員",
    )
    ふりがな = text("ふりがな", "かさね はなこ", scope="基本情報", max_length=200)
    氏名 = text("氏名", "重 花子", required=True, scope="基本情報", max_length=200)
    性別 = select("性別", ["男性", "女性", "その他"], "女性", scope="基本情報")
    生年月日 = date("生年月日", "1943-05-20", scope="基本情報")
    住所 = text("住所", "あわら市本町1-2-3", scope="基本情報")
    電話 = text("電話", "0776-00-0000", scope="基本情報")
    来談者 = text("来談者", "民生委員 佐藤")
    来談者との関係 = select("来談者との関係", ["本人", "家族", "その他"], "その他")
    来談者続柄 = text("来談者の続柄（家族の場合）", "長男")
    相談内容 = multiselect("相談内容", CONSULTATION_TOPICS, ["介護", "ひきこもり・不登校", "税・公共料金"], required=True)
    主な相談内容 = select("主な相談内容", CONSULTATION_TOPICS, "介護")
    相談の概要 = text("相談の概要", "母の物忘れが進み、同居の長男は長くひきこもっている。", long=True)
    希望 = text("希望", "母の介護について相談したい。", long=True)
    仕事 = select("仕事", ["就労中", "求職中", "無職", "就学中", "その他"], "無職")
    住居 = select("住居", ["持家", "借家", "公営住宅", "社宅", "野宿", "その他"], "持家")
    健康保険 = select(
        "健康保険",
        ["国民健康保険", "被用者保険", "後期高齢者医療", "医療扶助", "なし", "不明"],
        "後期高齢者医療",
        scope="医療",
    )
    年金 = select("年金", ["国民年金", "厚生年金", "障害年金", "遺族年金", "なし", "不明"], "国民年金",
                scope="家計")
    同意 = select("個人情報の取扱いへの同意", ["あり", "なし"], "あり")
    署名日 = date("署名日", "2025-04-07")
    対応 = select(
        "対応", ["自機関対応", "情報提供で終了", "ネットワーク対応", "多機関協働"], "多機関協働", required=True
    )
    連携シート = rows("連携シート（多機関協働へつなぐとき）", LinkageSheetRow)


class NetworkRecordForm(FormSchema):
    """ネットワーク対応の記録: the lead agency coordinates the others. 結果 decides."""

    form_key = "ネットワーク対応記録"
    title = "ネットワーク対応記録"

    対応日 = date("対応日", "2025-04-14", required=True)
    主担当機関 = text("主担当機関", "地域包括支援センター", required=True)
    連携機関 = multiselect("連携機関", AGENCIES, ["自立相談支援機関", "民生委員"])
    対応内容 = text("対応内容", "包括と自立相談で役割を確認したが、長男への支援が決まらない。", long=True)
    結果 = select("結果", ["解決", "継続", "多機関協働へ"], "多機関協働へ", required=True)
    連携シート = rows("連携シート（他の機関・多機関協働へつなぐとき）", LinkageSheetRow, [{
        "紹介日": "2025-04-14", "紹介元": "地域包括支援センター", "紹介先": "自立相談支援機関",
        "紹介理由": "税・公共料金の滞納について家計改善支援を依頼するため。", "本人の同意": "あり",
        "共有した情報": ["基本情報", "家計"]}])


class AcceptanceForm(FormSchema):
    """D2 at 福祉まるごと相談室: accept the referral or return it with advice (支援者支援)."""

    form_key = "受理判断"
    title = "受理判断"
    meeting = MeetingFields(basis="wg_meeting", date="判断日", minutes=("理由",), when="WG会議")

    判断日 = date("判断日", "2025-04-18", required=True)
    WG会議 = checkbox("WG会議で検討した", True)
    判断 = select("判断", ["受理", "差し戻し"], "受理", required=True)
    理由 = text("判断の理由", "複数分野の課題があり、機関の役割整理が必要。", long=True)
    助言 = text("助言（差し戻しの場合）", "長男の状況を民生委員と確認し、再度ご相談ください。", long=True)


class ConsentForm(FormSchema):
    """情報共有同意書: one consent per person. 同意 decides D3."""

    form_key = "同意確認"
    title = "情報共有同意書"
    concerns = "対象者"
    scope = "基本情報"
    consent = ConsentFields(given="同意", given_values=("あり",), member="対象者", consenter="同意者",
                            proxy_relation="代理人続柄", explainer="説明者", date="同意日",
                            agencies="共有先", scopes="情報範囲", purpose="目的",
                            valid_until="有効期限")

    対象者 = text("対象者（同意する本人）", "重 花子", required=True, max_length=200)
    同意 = select("同意", ["あり", "なし"], "あり", required=True)
    同意者 = select("同意者", ["本人", "代理人"], "本人")
    代理人続柄 = text("代理人の続柄", "長男", max_length=50)
    説明者 = text("説明者", "福祉まるごと相談室 田中", max_length=200)
    同意日 = date("同意日", "2025-04-10")
    共有先 = agencies("共有先（登録された機関）", [])
    情報範囲 = multiselect(
        "共有する情報の範囲",
        SCOPES,
        ["基本情報", "介護", "家計", "支援経過"],
    )
    目的 = text("目的", "重層的支援体制整備事業による支援のため", long=True)
    有効期限 = date("有効期限", "2026-03-31")
    備考 = text("備考", "長男には改めて説明する予定。", long=True)
