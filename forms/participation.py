"""参加支援 forms: 参加支援マッチング and 参加支援フォローアップ (参加支援の確認日, t_participation)."""
from __future__ import annotations

from forms.base import FormSchema, date, multiselect, select, text


class ParticipationMatchingForm(FormSchema):
    """Matching with a host; the checks (参加支援の確認日) count from its completion."""

    form_key = "参加支援マッチング"
    title = "参加支援マッチング"

    受け入れ先 = text("受け入れ先", "みどり農園", required=True)
    開始日 = date("開始日", "2025-07-01", required=True)
    活動内容 = text("活動内容", "農作業のボランティア（週1回）", long=True)
    受け入れ先担当者 = text("受け入れ先担当者", "園主 高橋")
    本人の希望 = text("本人の希望", "人の少ない場所で体を動かしたい。", long=True)


class ParticipationFollowUpForm(FormSchema):
    """Check with the person and the host at +2 weeks, +1 month and +3 months."""

    form_key = "参加支援フォローアップ"
    title = "参加支援フォローアップ"

    確認日 = date("確認日", "2025-07-15", required=True)
    確認相手 = multiselect("確認相手", ["本人", "受け入れ先"], ["本人", "受け入れ先"])
    状況 = select("状況", ["定着", "調整中", "終了"], "定着", required=True)
    本人の様子 = text("本人の様子", "毎週通えている。", long=True)
    受け入れ先の意見 = text("受け入れ先の意見", "丁寧に作業してくれて助かる。", long=True)
