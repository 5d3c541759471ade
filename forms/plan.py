"""Assessment and plan forms: アセスメント, プラン作成, 再プラン作成, プラン協議, 再プラン協議."""
from __future__ import annotations

from marshmallow import ValidationError, validates

from forms.base import (
    AGENCIES,
    FormSchema,
    MeetingFields,
    Person,
    checkbox,
    date,
    future_date_error,
    is_after_today,
    multiselect,
    number,
    rows,
    select,
    text,
)

ISSUE_AREAS = ["介護", "障害", "子ども", "困窮", "健康・医療", "住まい", "家計", "就労", "社会参加", "その他"]


class HouseholdMemberRow(FormSchema):
    scope = "基本情報"

    氏名 = text("氏名", "重 一郎", required=True, max_length=200)
    続柄 = select(
        "続柄", ["本人", "配偶者", "子", "父", "母", "祖父", "祖母", "孫", "兄弟姉妹", "その他"], "子"
    )
    年齢 = number("年齢", 53)
    同居別居 = select("同居/別居", ["同居", "別居"], "同居")
    就労就学 = select("就労・就学", ["就労", "求職中", "就学", "未就学", "なし", "その他"], "なし")
    要介護度 = select(
        "要介護度",
        ["なし", "申請中", "要支援1", "要支援2", "要介護1", "要介護2", "要介護3", "要介護4", "要介護5"],
        "なし",
        scope="介護",
    )
    障害手帳 = select("障害手帳", ["なし", "申請中", "身体", "療育", "精神"], "なし", scope="障害")
    疾病 = text("疾病", "なし", scope="医療")
    ケア役割 = text("ケア役割", "母の見守り", scope="支援経過")
    ヤングケアラー = checkbox("ヤングケアラー", False, scope="支援経過")
    関係機関 = text("関係機関", "自立相談支援機関", scope="支援経過")


class IssueRow(FormSchema):
    分野 = select("分野", ISSUE_AREAS, "家計", required=True)
    内容 = text("内容", "年金収入のみで滞納がある。", required=True)
    優先度 = select("優先度", ["高", "中", "低"], "高")


class InvolvedAgencyRow(FormSchema):
    機関 = text("機関", "地域包括支援センター", required=True)
    担当 = text("担当", "山田")
    関わり = text("関わり", "母の介護認定と介護サービス調整")


class AssessmentForm(FormSchema):
    """インテーク・アセスメントシート (domain §3)."""

    form_key = "アセスメント"
    title = "アセスメントシート"
    members = {"世帯員": Person(name="氏名", relation="続柄",
                              flags=("要介護度", "障害手帳", "ヤングケアラー"))}

    実施日 = date("実施日", "2025-06-09", required=True)
    実施者 = text("実施者", "福祉まるごと相談室 田中")
    世帯員 = rows("世帯員", HouseholdMemberRow)
    生活歴 = text("生活歴", "長男は30代で離職後、自宅にひきこもっている。", long=True)
    収入源 = multiselect("収入源", ["給与", "年金", "生活保護", "その他"], ["年金"], scope="家計")
    債務滞納 = multiselect(
        "債務・滞納", ["家賃", "税", "公共料金", "借入金", "医療費・介護費", "その他"], ["税", "公共料金"],
        scope="家計",
    )
    住まいの状況 = text("住まいの状況", "持家（築40年）。", long=True)
    社会的孤立度 = select("社会的孤立度", ["低", "中", "高"], "高")
    本人の意向 = text("本人の意向", "家で母と暮らし続けたい。", long=True)
    家族の意向 = text("家族の意向", "別居の妹は母の施設入所も考えている。", long=True)
    強み = text("強み", "長男は畑仕事が好き。", long=True)
    課題 = rows("課題", IssueRow)
    リスク = multiselect("リスク", ["虐待", "自殺念慮", "ライフライン停止", "健康悪化"], ["健康悪化"])
    関係機関 = rows("関係機関", InvolvedAgencyRow)


class PlanRow(FormSchema):
    課題 = text("課題", "家計の滞納", required=True)
    目標 = text("目標", "滞納を解消する")
    支援内容 = text("支援内容", "家計改善支援", required=True)
    担当機関 = text("担当機関", "自立相談支援機関")
    頻度 = text("頻度", "月1回")
    期間 = text("期間", "3か月")


class PlanForm(FormSchema):
    """重層的支援プラン (プラン兼利用申込書). モニタリング予定日 sets the モニタリング期日
    (element t_monitor); left empty, the plan agreement adds settings.dmn's 既定モニタリング月数."""

    form_key = "プラン作成"
    title = "重層的支援プラン"
    plan = True  # the 再プラン below is a plan too: each is a version

    作成日 = date("作成日", "2025-06-11", required=True)
    長期目標 = text("長期目標", "母子が地域で安心して暮らし続ける。", long=True)
    短期目標 = text("短期目標", "母の介護サービス利用と長男の社会参加の一歩。", long=True)
    支援方針 = text("支援方針", "介護・家計・参加支援を組み合わせ、長男の意向を尊重する。", long=True)
    支援内容 = rows("支援内容", PlanRow)
    参加支援利用 = checkbox("参加支援利用", True)
    アウトリーチ利用 = checkbox("アウトリーチ利用", False)
    計画開始日 = date("計画期間（開始）", "2025-06-13")
    計画終了日 = date("計画期間（終了）", "2025-12-12")
    モニタリング予定日 = date("モニタリング予定日（空なら自治体の既定の月数後）", "2025-09-12")
    本人同意署名日 = date("本人同意署名日", "2025-06-11")
    主担当機関 = text("主担当機関", "福祉まるごと相談室")

    @validates("モニタリング予定日")
    def _monitoring_after_today(self, value, data_key: str, **kwargs) -> None:
        if value is not None and not is_after_today(value):
            raise ValidationError(future_date_error("モニタリング予定日"))


class ReplanForm(PlanForm):
    """再プラン (重層的支援会議②): changed circumstances, evaluation, new plan."""

    form_key = "再プラン作成"
    title = "重層的支援プラン（再プラン）"

    作成日 = date("作成日", "2025-08-27", required=True)
    モニタリング予定日 = date("モニタリング予定日（空なら自治体の既定の月数後）", "2025-12-01")

    変更理由 = text("状況の変化", "祖母が骨折で入院した。", long=True)
    現プランの評価 = text("現プランの評価", "ショートステイの増回で長女の負担は減った。", long=True)


class PlanReviewForm(FormSchema):
    """重層的支援会議①: the meeting judges the plan (D4); 支援決定 is recorded by the city."""

    form_key = "プラン協議"
    title = "重層的支援会議記録（プラン協議）"
    meeting = MeetingFields(basis="jusou_meeting", timing="①プラン策定", date="会議日",
                            agencies="出席機関", minutes=("修正内容", "不足資源"), agreements="結果")

    会議日 = date("会議日", "2025-06-13", required=True)
    出席機関 = multiselect("出席機関", AGENCIES, ["地域包括支援センター", "自立相談支援機関", "福祉まるごと相談室"])
    結果 = select("結果", ["適切", "修正"], "適切", required=True)
    修正内容 = text("修正内容", "参加支援の開始時期を本人と再確認する。", long=True)
    支援決定日 = date("支援決定日", "2025-06-13")
    不足資源 = text("不足資源（地域課題）", "ひきこもりの人が通える居場所が少ない。", long=True)


class ReplanReviewForm(PlanReviewForm):
    """重層的支援会議②: the meeting judges the new plan."""

    form_key = "再プラン協議"
    title = "重層的支援会議記録（再プラン協議）"
    meeting = MeetingFields(basis="jusou_meeting", timing="②再プラン", date="会議日",
                            agencies="出席機関", minutes=("修正内容", "不足資源"), agreements="結果")
