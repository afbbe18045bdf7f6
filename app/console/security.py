"""The console's browser defences: security headers, the session cookie's flags, same-origin forms.

Every answer under ``/console`` carries a Content-Security-Policy (scripts only from the
service itself or inline with this response's nonce, no framing), ``X-Frame-Options``,
``X-Content-Type-Options`` and ``Referrer-Policy``. The session cookie is ``Secure`` when
``CUNXIANG_SECURE_COOKIE`` is set (a site served over HTTPS behind a proxy) or the request
itself came over HTTPS. The login and logout forms are the console's only cookie-less or
cookie-ending POSTs, so they check that the browser sent them from a console page
(``Origin``, else ``Referer``): a form on another site cannot log a user in or out.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import get_settings
from app.errors import Forbidden

__all__ = ["ConsoleSecurityHeaders", "content_security_policy", "require_same_origin",
           "secure_cookie", "CONSOLE_PREFIX"]

CONSOLE_PREFIX = "/console"


def content_security_policy(nonce: str) -> str:
    """The console's policy; inline styles stay allowed (the templates use ``style=``)."""
    return (f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; media-src 'self' blob:; "
            "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'")


class ConsoleSecurityHeaders:
    """ASGI middleware: the headers above on every console answer; the nonce of its inline
    scripts is ``request.state.csp_nonce``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(CONSOLE_PREFIX):
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = content_security_policy(nonce)
                headers["X-Frame-Options"] = "DENY"
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure_cookie(request: Request) -> bool:
    """Whether the session cookie must only travel over HTTPS."""
    return get_settings().secure_cookie or request.url.scheme == "https"


def require_same_origin(request: Request) -> None:
    """403 unless the form was sent from a page of this service (``Origin``, else
    ``Referer``, naming this host); a browser always sends one of them with a form."""
    source = request.headers.get("origin") or request.headers.get("referer")
    host = request.headers.get("host")
    if not source or source == "null" or not host or urlsplit(source).netloc != host:
        raise Forbidden("这个表单只能从本系统的页面提交（跨站请求已拒绝）",
                        code="cross_site_request")
