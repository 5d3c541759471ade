"""Case event forms (BPMN messages), keyed by the event name."""
from __future__ import annotations

from forms.base import FormSchema, WithdrawalFields, date, select, text
from forms.monitoring import CONTACT_METHODS, CONTACT_RESULTS


class SituationChangeEvent(FormSchema):
    """状況変化: during 支援実施, brings モニタリング forward."""

    form_key = "状況変化"
    title = "状況変化"

    日付 = date("日付", "2025-08-20")
    内容 = text("内容", "祖母が骨折で入院した。", required=True, long=True)


class ContactRecordEvent(FormSchema):
    """接触記録: feeds the 連絡途絶の警告日 (t_nocontact) and the 中断 criteria."""

    form_key = "接触記録"
    title = "接触記録"

    日付 = date("日付", "2025-09-24", required=True)
    方法 = select("方法", CONTACT_METHODS, "訪問", required=True)
    結果 = select("結果", CONTACT_RESULTS, "不在・応答なし", required=True)
    メモ = text("メモ", "不在。連絡票を置いた。", long=True)


class ConsentWithdrawalEvent(FormSchema):
    """同意撤回: back to 同意前支援; sharing stops at once."""

    form_key = "同意撤回"
    title = "同意撤回"
    concerns = "対象者"
    withdrawal = WithdrawalFields(date="日付", member="対象者")

    日付 = date("日付", "2025-07-10", required=True)
    理由 = text("理由", "情報共有をやめてほしいと本人から申し出があった。", required=True, long=True)
    対象者 = text("撤回した世帯員（氏名・空なら全員）", None, max_length=200)


class ReopenContactEvent(FormSchema):
    """再開連絡: while 中断, back to アセスメント with the history kept."""

    form_key = "再開連絡"
    title = "再開連絡"

    日付 = date("日付", "2026-01-20", required=True)
    内容 = text("内容", "本人からCSWに電話があった。", required=True, long=True)
