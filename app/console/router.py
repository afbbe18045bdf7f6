"""Console pages: login, logout, the dashboard; each domain's pages live in console/pages_*.py."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from app.auth.deps import CONSOLE_COOKIE
from app.config import get_settings
from app.console.deps import HERE, ConsoleUser, LoginRequired, render
from app.console.i18n import browser_table, translate_error
from app.console.security import require_same_origin, secure_cookie
from app.db import DbSession, session_scope
from app.errors import DATABASE_UNAVAILABLE, AppError, TooManyRequests, Unauthorized
from app.users import service as users_service
from app.users.router import login_throttle

__all__ = ["router", "static_files", "console_error_page"]

router = APIRouter(prefix="/console", include_in_schema=False)
static_files = StaticFiles(directory=str(HERE / "static"))
_TRANSLATOR = (HERE / "static" / "i18n.js").read_text(encoding="utf-8")


def _safe_next(target: str | None) -> str:
    # Only local console paths: never redirect a user off-site after login.
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console/"


def console_error_page(request: Request, exc: AppError) -> Response | None:
    """HTML answers for console pages: a login redirect or a readable error page."""
    if not request.url.path.startswith("/console"):
        return None
    if isinstance(exc, LoginRequired):
        return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)
    titles = {403: "无权访问", 404: "找不到页面", 409: "操作冲突"}
    detail = exc.message if _is_chinese(exc.message) else translate_error(exc.body(), exc.status)
    user = getattr(request.state, "principal", None)
    title = titles.get(exc.status, "出错了")
    # The request's own session has ended with the failure: names come from a short one.
    try:
        with session_scope() as session:
            request.state.session = session
            page = render(request, "error.html", user, title=title, detail=detail)
    except DATABASE_UNAVAILABLE:
        request.state.session = None
        page = render(request, "error.html", user, title=title, detail=detail)
    request.state.session = None
    page.status_code = exc.status
    return page


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@router.get("/i18n.js")
def i18n_script(request: Request) -> Response:
    """The translation table and the browser's translator (static/i18n.js), as one script."""
    body = f"window.CX_I18N = {browser_table()};\n{_TRANSLATOR}"
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="text/javascript; charset=utf-8",
                    headers={"ETag": etag, "Cache-Control": "no-cache"})


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Any:
    """The login form."""
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login", dependencies=[Depends(require_same_origin)])
def login(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form()] = "/console/",
) -> Any:
    """Check the password, set the session cookie and go on to the page asked for."""
    address = request.client.host if request.client else "unknown"
    keys = (f"user:{username}", f"addr:{address}")
    settings = get_settings()
    try:
        with login_throttle.attempt(*keys), session_scope() as session:
            token = users_service.login(session=session, username=username, password=password,
                                       ttl_s=settings.token_ttl)
    except TooManyRequests as refused:  # the page again, as the API says it: 429, Retry-After
        wait = refused.extra["retry_after"]
        page = render(request, "login.html", None, next=_safe_next(next),
                      error=f"登录失败次数过多，请 {wait} 秒后再试")
        page.status_code = 429
        page.headers["Retry-After"] = str(wait)
        return page
    except Unauthorized:
        return render(request, "login.html", None, next=_safe_next(next), error="用户名或密码错误")
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(CONSOLE_COOKIE, token, max_age=settings.token_ttl, httponly=True,
                        samesite="strict", path="/", secure=secure_cookie(request))
    return response


@router.post("/logout", dependencies=[Depends(require_same_origin)])
def logout(request: Request, session: DbSession) -> Any:
    """End the console session (the token is revoked, not just forgotten)."""
    token = request.cookies.get(CONSOLE_COOKIE)
    if token:
        users_service.logout(session=session, token=token)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(CONSOLE_COOKIE, path="/", httponly=True, samesite="strict",
                           secure=secure_cookie(request))
    return response


@router.get("/")
def dashboard(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """The dashboard: what is on air, what is broken, what is due."""
    from app.console.dashboard import dashboard_data

    request.state.principal = user
    return render(request, "dashboard.html", user,
                  **dashboard_data(session=session, principal=user))
