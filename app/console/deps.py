"""Console sessions: the login cookie, the principal behind it, and the template renderer."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from app.auth.deps import CONSOLE_COOKIE
from app.auth.permissions import Principal
from app.auth.tokens import resolve_token
from app.config import get_settings
from app.console.i18n import LABELS, in_chinese, translate_error
from app.console.names import Names
from app.db import DbSession
from app.errors import AppError, Forbidden

__all__ = ["ConsoleUser", "LoginRequired", "templates", "render", "local_time", "require_page"]

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=str(HERE / "templates"))


def local_time(value: datetime | str | None, fmt: str = "%m-%d %H:%M") -> str:
    """A UTC time shown in the service's time zone."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(get_settings().tz).strftime(fmt)


templates.env.filters["local"] = local_time
templates.env.globals["L"] = LABELS  # state, role, event… labels: {{ L.ticket_states[t.status] }}
templates.env.globals["api_error"] = translate_error
templates.env.filters["zh"] = in_chinese  # a system message in Chinese: {{ reason | zh }}


class LoginRequired(AppError):
    """A console page visited without a valid session: the handler redirects to the login page."""

    status, code = 401, "login_required"


def _console_principal(request: Request, session: DbSession) -> Principal:
    token = request.cookies.get(CONSOLE_COOKIE)
    principal = resolve_token(session=session, token=token) if token else None
    if principal is None or principal.kind != "user":
        raise LoginRequired("please log in", next=request.url.path)
    # For the page (names looked up in the request's session) and for its error page.
    request.state.principal, request.state.session = principal, session
    return principal


ConsoleUser = Annotated[Principal, Depends(_console_principal)]


def require_page(principal: Principal, permission: str) -> None:
    """403 unless the console user holds ``permission``."""
    if not principal.can(permission):
        raise Forbidden(f"您的角色无权访问此页面（需要 {permission} 权限）")


def render(request: Request, name: str, principal: Principal | None, **context: Any) -> Any:
    """Render a console template with the user, settings and names every page needs."""
    names = Names(getattr(request.state, "session", None))
    return templates.TemplateResponse(
        request, name,
        {"user": principal, "tz": get_settings().timezone, "quote": quote, "names": names,
         **context},
    )
