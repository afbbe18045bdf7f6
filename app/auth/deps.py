"""Request dependencies: the bearer principal and permission checks (401 vs 403)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth.permissions import Principal
from app.auth.tokens import resolve_token
from app.db import DbSession
from app.errors import Forbidden, Unauthorized

__all__ = ["CurrentPrincipal", "require", "bearer_token", "BearerToken", "CONSOLE_COOKIE",
           "CONSOLE_HEADER"]

_bearer = HTTPBearer(auto_error=False, description="an access token, API key or terminal token")

CONSOLE_COOKIE = "cx_session"
# The console's scripts send this header with the session cookie; a cross-site form cannot,
# so a cookie alone never authenticates an API call (CSRF).
CONSOLE_HEADER = "x-cunxiang-console"


def bearer_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The bearer secret of the request (or the console's session cookie); 401 when none."""
    if (credentials is not None and credentials.scheme.lower() == "bearer"
            and credentials.credentials):
        return credentials.credentials
    cookie = request.cookies.get(CONSOLE_COOKIE)
    if cookie and request.headers.get(CONSOLE_HEADER) == "1":
        return cookie
    raise Unauthorized("missing bearer token")


BearerToken = Annotated[str, Depends(bearer_token)]


def _current_principal(request: Request, session: DbSession, token: BearerToken) -> Principal:
    principal = resolve_token(session=session, token=token)
    if principal is None:
        raise Unauthorized("invalid, expired or revoked token")
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_current_principal)]


def require(permission: str) -> Callable[[Principal], Principal]:
    """A dependency that answers 403 unless the principal holds ``permission``."""

    def _check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"this needs the {permission!r} permission")
        return principal

    _check.__name__ = f"require_{permission.replace(':', '_').replace('*', 'all')}"
    return _check
