"""User accounts, logins and their access tokens, API keys (and resolving those two tokens)."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.audit.service import record
from app.auth.permissions import ROLE_PERMISSIONS, Principal
from app.auth.security import (
    API_KEY_PREFIX,
    USER_TOKEN_PREFIX,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from app.pagination import matching
from app.users.models import AccessToken, ApiKey, User
from app.users.schemas import ApiKeyCreate, ApiKeyRead, UserCreate, UserRead, UserUpdate

__all__ = [
    "login",
    "logout",
    "resolve_user_token",
    "resolve_api_key",
    "create_user",
    "update_user",
    "get_user",
    "list_users",
    "user_read",
    "create_api_key",
    "list_api_keys",
    "revoke_api_key",
    "api_key_read",
    "ensure_admin",
]

log = logging.getLogger(__name__)


def _area_path(session: Session, code: str | None) -> str | None:
    if code is None:
        return None
    area = session.get(Area, code)
    return area.path if area else code


def _user_principal(session: Session, user: User) -> Principal:
    return Principal(
        kind="user", id=user.id, name=user.username, role=user.role, area_code=user.area_code,
        area_path=_area_path(session, user.area_code),
        permissions=ROLE_PERMISSIONS[user.role],
    )


def login(*, session: Session, username: str, password: str, ttl_s: int) -> str:
    """Check the password and issue a new access token; 401 on any mismatch."""
    user = session.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthorized("wrong username or password")
    if user.disabled:
        raise Unauthorized("this user is disabled")
    token = new_token(USER_TOKEN_PREFIX)
    session.add(AccessToken(token_hash=token_digest(token), user_id=user.id,
                            expires_at=utcnow() + timedelta(seconds=ttl_s)))
    return token


def logout(*, session: Session, token: str) -> None:
    """Revoke the access token used for this request."""
    session.execute(update(AccessToken).where(AccessToken.token_hash == token_digest(token))
                    .values(revoked_at=utcnow()))


def resolve_user_token(session: Session, token: str) -> Principal | None:
    """The user a login token (``cxu_``) stands for, or None."""
    row = session.execute(
        select(AccessToken, User).join(User, User.id == AccessToken.user_id)
        .where(AccessToken.token_hash == token_digest(token))
    ).first()
    if row is None:
        return None
    access, user = row
    if access.revoked_at is not None or access.expires_at <= utcnow() or user.disabled:
        return None
    return _user_principal(session, user)


def resolve_api_key(session: Session, token: str) -> Principal | None:
    """The API key (``cxk_``) a token is, or None."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == token_digest(token)))
    if key is None or key.revoked_at is not None:
        return None
    return Principal(
        kind="api_key", id=key.id, name=key.name, role=None, area_code=key.area_code,
        area_path=_area_path(session, key.area_code), permissions=frozenset(key.scopes),
    )



# ---------------------------------------------------------------- users


def user_read(user: User) -> UserRead:
    """The admin's view of a user."""
    return UserRead(id=user.id, username=user.username, name=user.name,
                    role=user.role,  # type: ignore[arg-type]
                    area=user.area_code, disabled=user.disabled, created_at=user.created_at)


def _check_area(session: Session, principal: Principal, role: str, area: str | None) -> None:
    if area is None:
        if role in ("staff", "reviewer"):
            raise InvalidInput(f"a {role} needs an area")
        return
    found = session.get(Area, area)
    if found is None:
        raise InvalidInput(f"area {area!r} does not exist")
    if not principal.covers(found.path):
        raise Forbidden(f"area {area!r} is outside your area")


def _blank_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def get_user(*, session: Session, username: str) -> User:
    """The user called ``username``; 404 when unknown."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} does not exist")
    return user


def create_user(*, session: Session, principal: Principal, data: UserCreate) -> User:
    """Create a user; 409 when the username is taken."""
    _check_area(session, principal, data.role, data.area)
    if session.scalar(select(User.id).where(User.username == data.username)):
        raise Conflict(f"user {data.username!r} already exists")
    user = User(username=data.username, password_hash=hash_password(data.password),
                role=data.role, area_code=data.area, name=_blank_none(data.name))
    session.add(user)
    session.flush()
    record(session=session, actor=principal.actor, action="create", entity="user",
           entity_id=user.username, area_path=_area_path(session, user.area_code),
           after=user_read(user).model_dump())
    return user


def update_user(*, session: Session, principal: Principal, username: str, data: UserUpdate) -> User:
    """Change a user's role, area, password or disabled flag."""
    user = get_user(session=session, username=username)
    before = user_read(user).model_dump()
    fields = data.model_fields_set
    role = data.role or user.role
    area = data.area if "area" in fields else user.area_code
    if "role" in fields or "area" in fields:
        _check_area(session, principal, role, area)
        user.role, user.area_code = role, area
    if "name" in fields:
        user.name = _blank_none(data.name)
    if data.password is not None:
        user.password_hash = hash_password(data.password)
    if data.disabled is not None:
        if data.disabled and user.id == principal.id:
            raise Conflict("you cannot disable yourself")
        user.disabled = data.disabled
    session.flush()
    after = user_read(user).model_dump()
    if data.password is not None:
        after["password"] = "changed"
    record(session=session, actor=principal.actor, action="update", entity="user",
           entity_id=user.username, area_path=_area_path(session, user.area_code),
           before=before, after=after)
    return user


def list_users(*, principal: Principal, q: str | None = None,
               role: str | None = None) -> Select[User]:
    """Users ordered by username; ``q``: words in the username or name; ``role``: one role."""
    stmt = select(User)
    if (words := matching(q, User.username, User.name)) is not None:
        stmt = stmt.where(words)
    if role:
        stmt = stmt.where(User.role == role)
    return stmt.order_by(User.username)


def ensure_admin(*, session: Session, password: str | None) -> str | None:
    """With no users at all, create ``admin``; returns the generated password if one was made."""
    if session.scalar(select(User.id).limit(1)) is not None:
        return None
    generated = None if password else secrets.token_urlsafe(12)
    try:
        with session.begin_nested():  # several nodes may start at once on a new database
            session.add(User(username="admin", role="admin", area_code=None,
                             password_hash=hash_password(password or generated or "")))
            session.flush()
            record(session=session, actor="system:cunxiang", action="bootstrap", entity="user",
                   entity_id="admin", after={"username": "admin", "role": "admin"})
    except IntegrityError:
        return None  # another process created it first
    return generated


# ---------------------------------------------------------------- API keys


def api_key_read(key: ApiKey) -> ApiKeyRead:
    """The listed view of an API key."""
    return ApiKeyRead(id=key.id, name=key.name, prefix=key.key_prefix, scopes=list(key.scopes),
                      area=key.area_code, created_by=key.created_by, created_at=key.created_at,
                      last_used_at=key.last_used_at, revoked=key.revoked_at is not None)


def create_api_key(
    *, session: Session, principal: Principal, data: ApiKeyCreate
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the secret, which is never shown again."""
    _check_area(session, principal, "api_key", data.area)
    secret = new_token(API_KEY_PREFIX)
    key = ApiKey(name=data.name, key_hash=token_digest(secret), key_prefix=secret[:10],
                 scopes=sorted(set(data.scopes)), area_code=data.area, created_by=principal.actor)
    session.add(key)
    session.flush()
    record(session=session, actor=principal.actor, action="create", entity="api_key",
           entity_id=key.id, area_path=_area_path(session, key.area_code),
           after=api_key_read(key).model_dump())
    return key, secret


def list_api_keys() -> Select[ApiKey]:
    """All API keys, newest first."""
    return select(ApiKey).order_by(ApiKey.created_at.desc())


def revoke_api_key(*, session: Session, principal: Principal, key_id: str) -> None:
    """Revoke a key: it stops working at once."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"API key {key_id!r} does not exist")
    if key.revoked_at is None:
        before = api_key_read(key).model_dump()
        key.revoked_at = utcnow()
        record(session=session, actor=principal.actor, action="revoke", entity="api_key",
               entity_id=key.id, area_path=_area_path(session, key.area_code), before=before,
               after=api_key_read(key).model_dump())
