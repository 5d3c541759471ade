"""Forms of the 同意前支援 track: 支援会議記録 and アウトリーチ訪問記録."""
from __future__ import annotations

from forms.base import (SCOPES, ConsentFields, FormSchema, MeetingFields, agencies, checkbox, date,
                        multiselect, rows, select, text)


class MeetingMemberRow(FormSchema):
    """A member of the 支援会議; members owe confidentiality (社会福祉法106条の6第5項)."""

    氏名 = text("氏名", "佐藤 一郎", required=True, max_length=200)
    所属 = text("所属", "自立相談支援機関", required=True, max_length=200)
    利用者 = text("kasane の利用者名（利用者の場合）", None, max_length=100)
    守秘義務確認 = checkbox("守秘義務を確認した（利用者でない構成員）", True)


class SupportMeetingForm(FormSchema):
    """支援会議記録 (社会福祉法106条の6). 合意事項 ∋ アウトリーチ opens a visit at once."""

    form_key = "支援会議記録"
    title = "支援会議記録"
    concerns = "対象者"
    meeting = MeetingFields(basis="support_meeting", date="開催日", attendees="構成員",
                            minutes=("検討内容", "役割分担"), agreements="合意事項",
                            next_date="次回予定日", local_name="会議名称", link="会議番号")

    開催日 = date("開催日", "2025-04-25", required=True)
    会議番号 = text("同じ会議の記録に追記する場合の会議番号", None)
    会議名称 = text("会議名称（市町村での呼び方）", "支援会議", max_length=200)
    対象者 = text("検討した世帯員（氏名）", "重 一郎", max_length=200)
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
    concerns = "対象者"
    consent = ConsentFields(given="結果", given_values=("同意取得",), member="対象者",
                            consenter="同意者", proxy_relation="代理人続柄", explainer="訪問者",
                            date="訪問日", agencies="共有先", scopes="情報範囲", purpose="目的",
                            valid_until="有効期限")

    訪問日 = date("訪問日", "2025-05-02", required=True)
    訪問者 = text("訪問者", "アウトリーチ支援員 鈴木", max_length=200)
    訪問方法 = select("訪問方法", ["訪問", "手紙・連絡票", "電話", "関係者経由"], "訪問")
    結果 = select("結果", ["接触できず", "面談", "同意取得"], "面談", required=True)
    本人の様子 = text("本人の様子", "ドア越しに短く会話できた。", long=True)
    次回訪問日 = date("次回訪問日", "2025-05-16")
    対象者 = text("訪問した世帯員（氏名）", "重 一郎", max_length=200)
    同意者 = select("同意者（同意取得のとき）", ["本人", "代理人"], "本人")
    代理人続柄 = text("代理人の続柄", None, max_length=50)
    共有先 = agencies("共有先（同意取得のとき・登録された機関）", [])
    情報範囲 = multiselect("共有する情報の範囲（同意取得のとき）", SCOPES, [])
    目的 = text("目的（同意取得のとき）", "重層的支援体制整備事業による支援のため", long=True)
    有効期限 = date("有効期限（同意取得のとき）", "2026-03-31")
