"""Case search by person: 氏名 or ふりがな, partial match, under the access policy (in SQL)."""
from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine import access
from engine.errors import InvalidInput
from engine.households import GRAMS, MEMBERS, NAME_LENGTH, normalise
from engine.store import Case, parse_id

CASES = Case.__table__


def search(session: Session, actor, query: str, limit: int = 50, after: str | None = None) -> list[dict]:
    """Members whose 氏名 or ふりがな contains the query, in cases the actor sees whole or
    through a consent that includes 基本情報, newest case first; ``after`` is the last hit's
    cursor. The access policy is part of the SQL."""
    key = normalise(query)
    if not key:
        raise InvalidInput("検索する氏名またはふりがなを入力してください。", {"q": "必須項目です。"})
    if len(str(query).strip()) > NAME_LENGTH:  # normalise cuts to the column: measure before
        raise InvalidInput(f"検索語は{NAME_LENGTH}文字以内にしてください。", {"q": "長すぎます。"})
    pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    by_consent = access.consented_member(actor, MEMBERS.c.id, "基本情報")
    whole = access.full_cases(actor)
    matches = or_(MEMBERS.c.search_name.like(pattern, escape="\\"),
                  MEMBERS.c.search_kana.like(pattern, escape="\\"))
    columns = (MEMBERS, CASES.c.stage, CASES.c.status, whole.label("whole"))
    if len(key) >= 2:
        # Walk the members having the query's first piece, newest case first, and keep
        # those the whole query matches and the actor may see: a page stops when full.
        order = (GRAMS.c.case_id, GRAMS.c.member_id)
        statement = (select(*columns).select_from(GRAMS)
                     .join(MEMBERS, MEMBERS.c.id == GRAMS.c.member_id)
                     .where(GRAMS.c.gram == key[:2]))
    else:  # one character: no piece to look up, so walk the members themselves
        order = (MEMBERS.c.case_id, MEMBERS.c.id)
        statement = select(*columns).select_from(MEMBERS)
    statement = statement.join(CASES, CASES.c.id == MEMBERS.c.case_id).where(matches, or_(whole, by_consent))
    if after is not None:
        case_id, member_id = _parse_search_cursor(after)
        statement = statement.where(or_(order[0] < case_id, and_(order[0] == case_id, order[1] < member_id)))
    rows = session.connection().execute(statement.order_by(order[0].desc(), order[1].desc())
                                        .limit(min(max(int(limit), 1), 200)))
    return [{"case_id": r.case_id, "member_id": r.id, "氏名": r.name, "ふりがな": r.kana,
             "続柄": r.relation, "本人": bool(r.principal), "stage": r.stage, "status": r.status,
             "basis": "whole" if r.whole else "consent", "cursor": f"{r.case_id}-{r.id}"}
            for r in rows]


def _parse_search_cursor(cursor: str) -> tuple[int, int]:
    parts = [parse_id(p) for p in str(cursor).split("-")]
    if len(parts) != 2 or None in parts:
        raise InvalidInput(f"カーソル {cursor!r} が正しくありません。", {"after": "正しくないカーソルです。"})
    return parts[0], parts[1]
