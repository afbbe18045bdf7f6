"""HTTP routes for logins, users and API keys."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from app.auth.deps import BearerToken, CurrentPrincipal, require
from app.auth.permissions import Principal
from app.config import get_settings
from app.db import DbSession, session_scope
from app.errors import Forbidden
from app.pagination import Page, Paging, Search, fetch_page
from app.users import service
from app.users.ratelimit import LoginThrottle
from app.users.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    LoginRequest,
    Role,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)

__all__ = ["router", "login_throttle"]

router = APIRouter(prefix="/api/v1", tags=["auth"])
_KINDS = {"api_key": "an API key (DELETE /api/v1/api-keys/{id})",
          "terminal": "a terminal token (POST /api/v1/speakers/{id}/token)"}
login_throttle = LoginThrottle()
Admin = Annotated[Principal, Depends(require("users:admin"))]


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/auth/token", response_model=TokenRead)
def issue_token(data: LoginRequest, request: Request) -> TokenRead:
    """Log in with username and password; more than 10 failures in 5 minutes → 429."""
    keys = (f"user:{data.username}", f"addr:{_client_address(request)}")
    ttl = get_settings().token_ttl
    with login_throttle.attempt(*keys), session_scope() as session:
        token = service.login(session=session, username=data.username,
                              password=data.password, ttl_s=ttl)
    return TokenRead(access_token=token, expires_in=ttl)


@router.post("/auth/logout", status_code=204,
             responses={403: {"description": "an API key or a terminal token: revoke those "
                                             "with DELETE /api/v1/api-keys/{id} or a new "
                                             "speaker token"}})
def logout(principal: CurrentPrincipal, token: BearerToken, session: DbSession) -> Response:
    """Revoke the access token (of a login) used for this request."""
    if principal.kind != "user":  # answering 204 would claim a revocation that did not happen
        raise Forbidden(f"logout ends a login; this is {_KINDS.get(principal.kind, 'not one')}, "
                        "revoke it where it was issued")
    service.logout(session=session, token=token)
    return Response(status_code=204)


@router.get("/auth/me", response_model=dict)
def whoami(principal: CurrentPrincipal) -> dict[str, object]:
    """Who the token belongs to, with role, area and permissions."""
    return {"kind": principal.kind, "id": principal.id, "name": principal.name,
            "role": principal.role, "area": principal.area_code,
            "permissions": sorted(principal.permissions)}


@router.post("/users", status_code=201, response_model=UserRead)
def create_user(data: UserCreate, principal: Admin, session: DbSession) -> UserRead:
    """Create a user (admin)."""
    return service.user_read(service.create_user(session=session, principal=principal, data=data))


@router.get("/users", response_model=Page[UserRead])
def list_users(principal: Admin, session: DbSession, paging: Paging, q: Search = None,
               role: Role | None = None) -> Page[UserRead]:
    """List users (admin); ``q`` searches usernames and names."""
    rows, total = fetch_page(session, service.list_users(principal=principal, q=q, role=role),
                             paging)
    return Page(items=[service.user_read(u) for u in rows], total=total)


@router.get("/users/{username}", response_model=UserRead)
def get_user(username: str, principal: Admin, session: DbSession) -> UserRead:
    """One user (admin)."""
    return service.user_read(service.get_user(session=session, username=username))


@router.patch("/users/{username}", response_model=UserRead)
def update_user(username: str, data: UserUpdate, principal: Admin, session: DbSession) -> UserRead:
    """Change a user's role, area, password or disabled flag (admin)."""
    user = service.update_user(session=session, principal=principal, username=username, data=data)
    return service.user_read(user)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(data: ApiKeyCreate, principal: Admin, session: DbSession) -> ApiKeyCreated:
    """Create an API key; its secret is shown in this answer only (admin)."""
    key, secret = service.create_api_key(session=session, principal=principal, data=data)
    return ApiKeyCreated(**service.api_key_read(key).model_dump(), key=secret)


@router.get("/api-keys", response_model=Page[ApiKeyRead])
def list_api_keys(principal: Admin, session: DbSession, paging: Paging) -> Page[ApiKeyRead]:
    """List API keys without their secrets (admin)."""
    rows, total = fetch_page(session, service.list_api_keys(), paging)
    return Page(items=[service.api_key_read(k) for k in rows], total=total)


@router.delete("/api-keys/{key_id}", status_code=204)
def revoke_api_key(key_id: str, principal: Admin, session: DbSession) -> Response:
    """Revoke an API key (admin): it stops working at once."""
    service.revoke_api_key(session=session, principal=principal, key_id=key_id)
    return Response(status_code=204)
