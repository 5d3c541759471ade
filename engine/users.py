"""Users and their roles (lanes in the models are role names)."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import clock
from engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from engine.store import User


def user_dict(user: User) -> dict:
    return {"name": user.name, "roles": list(user.roles), "agency": user.agency}


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
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"パスワードは{MIN_PASSWORD_LENGTH}文字以上にしてください。",
                           {"password": f"{MIN_PASSWORD_LENGTH}文字以上にしてください。"})
    if find_user(session, name) is not None:
        raise Conflict(f"利用者 '{name}' は既に登録されています。")
    user = User(name=name, roles=sorted(set(roles), key=roles.index), agency=agency,
                password_hash=_hasher.hash(password) if password is not None else None,
                created_at=clock.now())
    session.add(user)
    session.flush()
    return user_dict(user)


def find_user(session: Session, name: str):
    """The user's row (name, roles, agency), or None. A plain read: users are never
    changed while a case is."""
    return session.connection().execute(
        select(User.__table__).where(User.__table__.c.name == name)).first()


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
    for user in session.connection().execute(select(User.__table__).order_by(User.id)):
        if role in user.roles:
            return user
    return None


def require_role(user, role: str | None, what: str) -> None:
    if role and role not in user.roles:
        raise Forbidden(f"{what}は役割「{role}」の利用者だけが行えます。"
                        f"利用者 '{user.name}' の役割: {', '.join(user.roles) or 'なし'}")
