"""Case search by person: 氏名 or ふりがな, partial match, under the access policy (in SQL)."""
from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from engine import access
from engine.errors import InvalidInput
from engine.households import GRAMS, MEMBERS, NAME_LENGTH, normalise
from engine.store import Case, parse_id

CASES = Case.__table__
TRIGRAM_LENGTH = 4  # from this many characters, PostgreSQL looks the query up by trigrams


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
    matches = or_(MEMBERS.c.search_name.like(pattern, escape="\\"),
                  MEMBERS.c.search_kana.like(pattern, escape="\\"))
    members = MEMBERS
    if len(key) >= TRIGRAM_LENGTH and session.get_bind().dialect.name == "postgresql":
        # A query this long (a full name) matches few members: PostgreSQL finds them in
        # its trigram indexes (migration 0015). OFFSET 0 keeps the planner from walking
        # every member newest first instead, hoping to fill a page early.
        members = select(MEMBERS).where(matches).offset(0).subquery()
        order = (members.c.case_id, members.c.id)
        statement = select(members)
    elif len(key) >= 2:
        # Walk the members having the query's first piece, newest case first, and keep
        # those the whole query matches and the actor may see: a page stops when full.
        order = (GRAMS.c.case_id, GRAMS.c.member_id)
        statement = (select(MEMBERS).select_from(GRAMS)
                     .join(MEMBERS, MEMBERS.c.id == GRAMS.c.member_id)
                     .where(GRAMS.c.gram == key[:2], matches))
    else:  # one character has no piece to look up: walk the members themselves
        order = (MEMBERS.c.case_id, MEMBERS.c.id)
        statement = select(MEMBERS).where(matches)
    whole = access.full_cases(actor)
    statement = (statement.add_columns(CASES.c.stage, CASES.c.status, whole.label("whole"))
                 .join(CASES, CASES.c.id == members.c.case_id)
                 .where(or_(whole, access.consented_member(actor, members.c.id, access.IDENTITY_SCOPE))))
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
