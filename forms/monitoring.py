"""Forms after the plan: モニタリング, 終結協議, 中断協議, フォローアップ確認, 連絡途絶の確認."""
from __future__ import annotations

from marshmallow import ValidationError, validates

from forms.base import (
    FormSchema,
    MeetingFields,
    checkbox,
    date,
    future_date_error,
    is_after_today,
    number,
    rows,
    select,
    text,
)

CONTACT_METHODS = ["電話", "訪問", "連絡票", "関係者経由"]
CONTACT_RESULTS = ["接触", "不在・応答なし", "消息不明"]
FOLLOW_UP_METHODS = ["訪問", "電話", "来所", "関係機関からの報告"]


class GoalRatingRow(FormSchema):
    目標 = text("目標", "滞納を解消する", required=True)
    達成度 = select("達成度", ["達成", "一部", "未達成"], "達成", required=True)


class MonitoringForm(FormSchema):
    """評価シート. 方向性 decides D5. 次回予定日, when given, is after today.

    That 継続 needs a 次回予定日 is a case rule: the DMN decision ``monitoring_rules``
    (workflows/monitoring_rules.dmn) that the task names in its ``validation`` property.
    """

    form_key = "モニタリング"
    title = "評価シート"

    実施日 = date("実施日", "2025-09-12", required=True)
    実施方法 = select("実施方法", ["面談", "訪問", "電話", "関係機関"], "面談")
    目標の評価 = rows("目標の評価", GoalRatingRow)
    本人の変化 = text("本人の変化", "デイサービスの利用が定着した。", long=True)
    本人の意向 = text("本人の意向", "このまま家で暮らしたい。", long=True)
    関係機関の報告 = text("関係機関の報告", "要介護1の認定。滞納は解消。", long=True)
    方向性 = select("方向性", ["継続", "再プラン", "終結", "中断検討"], "継続", required=True)
    次回予定日 = date("次回予定日", "2025-12-12")

    @validates("次回予定日")
    def _next_date_after_today(self, value, data_key: str, **kwargs) -> None:
        if value is not None and not is_after_today(value):
            raise ValidationError(future_date_error("次回予定日"))


class ClosureReviewForm(FormSchema):
    """終結記録 (重層的支援会議③). 判断 decides D6.

    With フォローアップ要否 要, フォローアップ予定日 sets the first check (empty: the municipality's
    default months from today); フォローアップ回数 checks follow, フォローアップ間隔月数 apart (empty:
    the defaults of workflows/settings.dmn). 終結 needs 本人意向確認 (``closure_rules``).
    """

    form_key = "終結協議"
    title = "終結記録"
    meeting = MeetingFields(basis="jusou_meeting", timing="③終結", date="会議日",
                            minutes=("残課題", "不足資源"), agreements="判断")

    会議日 = date("会議日", "2025-10-03", required=True)
    本人意向確認 = checkbox("本人の意向を確認した", True)
    判断 = select("判断", ["終結", "継続"], "終結", required=True)
    終結日 = date("終結日", "2025-10-03")
    終結理由 = select(
        "終結理由",
        ["目標達成", "役割分担合意・主担当へ移行", "本人の意向", "他制度へ移行", "転出", "死亡"],
        "役割分担合意・主担当へ移行",
    )
    主担当機関 = text("主担当機関", "地域包括支援センター（母）、自立相談支援機関（長男）")
    残課題 = text("残課題", "長男の就労に向けた支援。", long=True)
    フォローアップ要否 = select("フォローアップ要否", ["要", "不要"], "要")
    フォローアップ方法 = select("フォローアップ方法", FOLLOW_UP_METHODS, "訪問")
    フォローアップ担当 = text("フォローアップ担当", "社会福祉協議会 CSW")
    フォローアップ予定日 = date("フォローアップ予定日（1回目）", "2026-01-09")
    フォローアップ回数 = number("フォローアップの回数（空なら自治体の既定）", 2, minimum=1)
    フォローアップ間隔月数 = number("フォローアップの間隔（か月、空なら自治体の既定）", 3, minimum=1)
    不足資源 = text("不足資源（地域課題）", "男性が参加しやすい居場所がない。", long=True)


class AttemptRow(FormSchema):
    日付 = date("日付", "2025-09-24", required=True)
    方法 = select("方法", CONTACT_METHODS, "訪問", required=True)
    結果 = select("結果", CONTACT_RESULTS, "不在・応答なし", required=True)


class SuspensionReviewForm(FormSchema):
    """中断記録 (重層的支援会議④). 判断 decides D7."""

    form_key = "中断協議"
    title = "中断記録"
    meeting = MeetingFields(basis="jusou_meeting", timing="④中断", date="会議日",
                            minutes=("再開条件",), agreements="判断")

    会議日 = date("会議日", "2025-11-07", required=True)
    最終接触日 = date("最終接触日", "2025-09-10")
    接触の試み = rows("接触の試み", AttemptRow)
    中断理由 = select("中断理由", ["消息不明", "音信途絶"], "消息不明")
    判断 = select("判断", ["中断", "継続"], "中断", required=True)
    見守り継続先 = text("見守り継続先", "民生委員")
    再開条件 = text("再開条件", "本人または家族から連絡があったとき。", long=True)


class FollowUpCheckForm(FormSchema):
    """One of the periodic checks after 終結 (フォローアップ期日, element t_followup)."""

    form_key = "フォローアップ確認"
    title = "フォローアップ確認"

    確認日 = date("確認日", "2026-01-09", required=True)
    確認方法 = select("確認方法", FOLLOW_UP_METHODS, "訪問")
    確認内容 = text("確認内容", "デイサービスの利用を継続している。", long=True)
    結果 = select("結果", ["問題なし", "再相談"], "問題なし", required=True)


class NoContactWarningForm(FormSchema):
    """Acknowledges the no-contact warning (連絡途絶の警告日, element t_nocontact): no contact
    for the municipality's number of days (30 by default)."""

    form_key = "連絡途絶の確認"
    title = "連絡途絶の確認"

    確認日 = date("確認日", "2025-10-10", required=True)
    対応メモ = text("対応メモ", "10/22に訪問し、連絡票を置く。", long=True)
