"""A small household for the policy tests: a case received by a 地域包括支援センター, in
同意前支援 after a 支援会議 that agreed on outreach (so a visit is open for the アウトリーチ
事業者), with personal values that appear nowhere else."""
from __future__ import annotations

from dataclasses import dataclass

import forms
from engine import clock
from tests.conftest import ROOT

NAME, SON = "重 花子", "重 一郎"
ADDRESS, PHONE = "あわら市秘密町1-1-1", "0776-11-2233"
MINUTES = "長男は深夜にだけ外出する"
ROLES_SHARED = "民生委員が週に一度声をかける"

USERS = {  # name: (role, agency)
    "yamada": ("包括化推進員", "北包括"),                      # received the case; attends
    "kimura": ("包括化推進員", "北包括"),                      # same agency; does not attend
    "tanaka": ("相談支援コーディネーター", "まるごと"),         # the secretariat; attends
    "suzuki": ("アウトリーチ支援員", "アウトリーチ"),          # works the visit (assignTo)
    "sato": ("包括化推進員", "自立相談"),                      # attends; agency not holding
    "boss": ("管理者", "自立相談"),                            # manager at the same agency
    "other": ("包括化推進員", "南包括"),                       # another agency of the kind
}
AGENCIES = {"北包括": "地域包括支援センター", "南包括": "地域包括支援センター",
            "まるごと": "福祉まるごと相談室", "アウトリーチ": "アウトリーチ事業者",
            "自立相談": "自立相談支援機関"}


@dataclass
class Household:
    kasane: object
    case_id: int

    def task(self, name: str) -> dict:
        return next(t for t in self.kasane.list_tasks(case_id=self.case_id) if t["name"] == name)

    def complete(self, name: str, user: str, **values) -> dict:
        task = self.task(name)
        return self.kasane.complete_task(task["task_id"], user,
                                         {**forms.example_values(task["form"]), **values})

    def event(self, message: str, user: str, **values) -> dict:
        return self.kasane.send_event(self.case_id, message, user,
                                      {**forms.example_values(message), **values})

    def meeting_id(self) -> int:
        shown = self.kasane.show_case(self.case_id)
        return next(m["meeting_id"] for m in shown["meetings"] if m["basis"] == "support_meeting")

    def record_id(self, name: str) -> int:
        shown = self.kasane.show_case(self.case_id)
        return next(r["record_id"] for r in shown["records"] if r["name"] == name)


def household(kasane, attendees=("yamada", "sato")) -> Household:
    clock.set_now("2025-04-07")
    kasane.deploy([str(ROOT / "workflows")])
    for name, kind in AGENCIES.items():
        kasane.add_agency(name, kind)
    for name, (role, agency) in USERS.items():
        kasane.add_user(name, [role], agency)
    world = Household(kasane, kasane.open_case("jusou", "yamada")["case_id"])
    world.complete("相談受付", "yamada", 氏名=NAME, 住所=ADDRESS, 電話=PHONE, 対応="多機関協働")
    world.complete("受理判断", "tanaka", 判断="受理")
    world.complete("同意確認", "tanaka", 同意="なし", 対象者=SON)
    world.complete("支援会議記録", "tanaka", 対象者=SON, 合意事項=["見守り", "アウトリーチ"],
                   検討内容=MINUTES, 役割分担=ROLES_SHARED, 次回予定日="2025-05-23",
                   構成員=[{"氏名": n, "所属": USERS[n][1], "利用者": n, "守秘義務確認": False}
                          for n in attendees])
    return world
