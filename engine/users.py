"""Users and their roles (lanes in the models are role names)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import agencies, clock
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.store import Agency, Deployment, User

MANAGER = "管理者"  # manages pathways and sees statistics; a role without a lane
NAME_LENGTH = 100
USERS = User.__table__
AGENCIES = Agency.__table__


def user_dict(user) -> dict:
    return {"name": user.name, "roles": list(user.roles), "agency": user.agency}


def known_roles(session: Session) -> list[str]:
    """The lanes of every deployed pathway, and 管理者."""
    roles = []
    for deployed in session.scalars(select(Deployment.roles).order_by(Deployment.id)):
        roles += [r for r in deployed if r not in roles]
    return roles + ([MANAGER] if MANAGER not in roles else [])


_hasher = PasswordHasher()
# Verified against when the name is unknown, so that a wrong name costs as much as a
# wrong password and sign-in does not tell which names exist.
_DUMMY_HASH = _hasher.hash("kasane-no-such-user")
MIN_PASSWORD_LENGTH = 8


def add_user(session: Session, name: str, roles: list[str], agency: str | None = None,
             password: str | None = None) -> dict:
    name = (name or "").strip()
    roles = [r.strip() for r in roles if r and r.strip()]
    if not name:
        raise InvalidInput("利用者名を入力してください。", {"name": "必須項目です。"})
    if not roles:
        raise InvalidInput("役割を1つ以上指定してください。", {"role": "必須項目です。"})
    if len(name) > NAME_LENGTH:
        raise InvalidInput(f"利用者名は{NAME_LENGTH}文字以内にしてください（{len(name)}文字）。",
                           {"name": f"{NAME_LENGTH}文字以内にしてください。"})
    known = known_roles(session)
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise InvalidInput(f"役割「{'」「'.join(unknown)}」はありません。役割はデプロイされた"
                           f"パスウェイのレーン名か「{MANAGER}」です。",
                           {"role": "次のいずれか: " + "、".join(known)})
    home = agencies.get_agency(session, agency)
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。",
                           {"password": f"{MIN_PASSWORD_LENGTH}文字以上にしてください。"})
    if find_user(session, name) is not None:
        raise Conflict(f"利用者 '{name}' は既に登録されています。")
    user = User(name=name, roles=sorted(set(roles), key=roles.index), agency_id=home.id,
                password_hash=_hasher.hash(password) if password is not None else None,
                created_at=clock.now())
    session.add(user)
    session.flush()
    return {"name": user.name, "roles": list(user.roles), "agency": home.name}


def find_user(session: Session, name: str):
    """The user's row (id, name, roles, agency_id, agency, agency_kind, password_hash), or
    None. A plain read: users are never changed while a case is."""
    return session.connection().execute(
        select(USERS, AGENCIES.c.name.label("agency"), AGENCIES.c.kind.label("agency_kind"))
        .join(AGENCIES, AGENCIES.c.id == USERS.c.agency_id).where(USERS.c.name == name)).first()


def verify_password(session: Session, name: str, password: str):
    """The user's row if the password is right, else None (unknown names included)."""
    user = find_user(session, name)
    try:
        _hasher.verify(user.password_hash if user is not None and user.password_hash
                       else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    return user if user is not None and user.password_hash else None


def get_user(session: Session, name: str):
    user = find_user(session, name)
    if user is None:
        raise NotFound(f"利用者 '{name}' が見つかりません。")
    return user


def first_user_with_role(session: Session, role: str):
    for user in session.connection().execute(select(USERS.c.name, USERS.c.roles).order_by(USERS.c.id)):
        if role in user.roles:
            return find_user(session, user.name)
    return None


def require_role(user, role: str | None, what: str) -> None:
    if role and role not in user.roles:
        raise Forbidden(f"{what}は役割「{role}」の利用者だけが行えます。"
                        f"利用者 '{user.name}' の役割: {', '.join(user.roles) or 'なし'}")
