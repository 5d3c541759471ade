"""Forms of the 同意前支援 track: 支援会議記録 and アウトリーチ訪問記録."""
from __future__ import annotations

from forms.base import FormSchema, checkbox, date, multiselect, rows, select, text


class MeetingMemberRow(FormSchema):
    """A member of the 支援会議; members owe confidentiality (社会福祉法106条の6第5項)."""

    氏名 = text("氏名", "佐藤 一郎", required=True)
    所属 = text("所属", "自立相談支援機関", required=True)
    守秘義務確認 = checkbox("守秘義務を確認した", True)


class SupportMeetingForm(FormSchema):
    """支援会議記録 (社会福祉法106条の6). 合意事項 ∋ アウトリーチ opens a visit at once."""

    form_key = "支援会議記録"
    title = "支援会議記録"

    開催日 = date("開催日", "2025-04-25", required=True)
    会議名称 = text("会議名称（市町村での呼び方）", "支援会議")
    構成員 = rows("構成員", MeetingMemberRow)
    検討内容 = text("検討内容", "長男（同意なし）の状況共有と支援方針。", long=True)
    合意事項 = multiselect(
        "合意事項", ["見守り", "アウトリーチ", "緊急対応", "参加支援検討"], ["見守り", "アウトリーチ"], required=True
    )
    役割分担 = text("役割分担", "アウトリーチ支援員が2週間ごとに訪問。民生委員が見守り。", long=True)
    次回予定日 = date("次回予定日", "2025-05-23")
    記録者 = text("記録者", "福祉まるごと相談室 田中")


class OutreachVisitForm(FormSchema):
    """アウトリーチ訪問記録. 接触できず/面談 open the next visit on 次回訪問日; 同意取得 ends the track."""

    form_key = "アウトリーチ訪問記録"
    title = "アウトリーチ訪問記録"

    訪問日 = date("訪問日", "2025-05-02", required=True)
    訪問者 = text("訪問者", "アウトリーチ支援員 鈴木")
    訪問方法 = select("訪問方法", ["訪問", "手紙・連絡票", "電話", "関係者経由"], "訪問")
    結果 = select("結果", ["接触できず", "面談", "同意取得"], "面談", required=True)
    本人の様子 = text("本人の様子", "ドア越しに短く会話できた。", long=True)
    次回訪問日 = date("次回訪問日", "2025-05-16")
