"""The terminal fast path: heartbeats and long-polls answered in front of FastAPI's routing.

Terminals are the busiest clients by far: thousands of heartbeats a minute, and every
terminal of a district re-polling within the same second after an urgent broadcast.
For a request that small, FastAPI's per-request work (route matching over every route,
dependency resolution, validation of the query, serialising the answer through the
response model) costs several times the work itself.

:class:`TerminalFastPath` is a plain ASGI layer that answers the well-formed requests of
``POST /terminal/v1/heartbeat`` and ``GET /terminal/v1/program`` itself, with the very
functions the FastAPI routes call (:func:`answer_program`, :func:`accept_heartbeat`). It
*passes on* to FastAPI everything it does not recognise as plainly valid — no bearer
token, a token that is not a known terminal's, a query or body that does not validate,
another method — so errors keep one source: the routes (401, 403, 422 with the usual
``{"error", "detail"}``). Only what can go wrong later, in the middle of a long-poll (the
token revoked while waiting), is answered here, through the same error shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Coroutine
from typing import Any, TypeVar

from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.permissions import Principal
from app.db import utcnow
from app.errors import DATABASE_UNAVAILABLE, AppError, app_error_response, unavailable_response
from app.guard import replay_body
from app.playout.terminal_router import accept_heartbeat, answer_program, terminal_runtime
from app.speakers.schemas import HeartbeatIn

__all__ = ["TerminalFastPath", "PROGRAM_PATH", "HEARTBEAT_PATH"]

PROGRAM_PATH = "/terminal/v1/program"
HEARTBEAT_PATH = "/terminal/v1/heartbeat"
MAX_BODY = 16 * 1024  # a heartbeat is ~100 bytes; anything bigger takes the ordinary way
_TOKEN_PREFIX = b"cxt_"
# The program's query as the terminals send it: version (an integer) and wait (seconds).
_NUMBER = re.compile(rb"[0-9]{1,12}(\.[0-9]{1,6})?")
_JSON = [(b"content-type", b"application/json")]
T = TypeVar("T")


class _Route:
    """What :class:`app.metrics.TimingMiddleware` reads of ``scope["route"]``."""

    def __init__(self, path: str) -> None:
        self.path = path


_ROUTES = {PROGRAM_PATH: _Route(PROGRAM_PATH), HEARTBEAT_PATH: _Route(HEARTBEAT_PATH)}


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            token = token.strip()
            if scheme.lower() == b"bearer" and token.startswith(_TOKEN_PREFIX):
                return token.decode("latin-1")
            return None
    return None


def _program_query(raw: bytes) -> tuple[int | None, float] | None:
    """``(version, wait)`` from a plain query string; None for anything else."""
    version: int | None = None
    wait = 0.0
    if not raw:
        return version, wait
    seen = set()
    for pair in raw.split(b"&"):
        name, _, value = pair.partition(b"=")
        if name in seen or not _NUMBER.fullmatch(value):
            return None
        seen.add(name)
        if name == b"version":
            if b"." in value:
                return None
            version = int(value)
        elif name == b"wait":
            wait = float(value)
        else:
            return None
    return version, wait


def _json_body(scope: Scope) -> bool:
    """The request says its body is JSON (as FastAPI requires to read it as JSON)."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json"))
    return False


def _base_url(scope: Scope) -> str:
    """``request.base_url``, for the absolute media URLs of a program (Starlette's own rules
    for the Host header and the root path)."""
    return str(Request(scope).base_url)


async def _answer(send: Send, status: int, body: bytes,
                  headers: list[tuple[bytes, bytes]] | None = None) -> None:
    head = list(headers or [])
    if status != 304:  # as Starlette: a 304 has no body and says nothing of its length
        head.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class TerminalFastPath:
    """ASGI middleware: terminals' heartbeats and long-polls without FastAPI's routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._answers = {(HEARTBEAT_PATH, "POST"): self._heartbeat,
                         (PROGRAM_PATH, "GET"): self._program}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root):]
            answer = self._answers.get((path, scope["method"]))
            if answer is not None:
                scope["route"] = _ROUTES[path]  # counted under its route, also when it fails
                try:
                    await answer(scope, receive, send)
                except DATABASE_UNAVAILABLE as exc:  # as the routes answer (nothing sent yet)
                    await unavailable_response(path, exc)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _terminal(self, scope: Scope) -> tuple[str, Principal] | None:
        """The bearer token and its terminal, when it is a known terminal's token."""
        token = _bearer(scope)
        if token is None:
            return None
        principal = await terminal_runtime(scope["app"]).resolve(token)
        if principal is None or principal.kind != "terminal":
            return None
        return token, principal

    async def _program(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = _program_query(scope.get("query_string", b""))
        caller = await self._terminal(scope) if query is not None else None
        if caller is None or query is None:
            await self.app(scope, receive, send)
            return
        version, wait = query
        answering = answer_program(scope["app"], caller[0], version, wait, _base_url(scope))
        try:
            if version is not None and wait > 0:  # a long-poll: it ends if the client goes
                answered = await _unless_gone(answering, receive)
                if answered is None:
                    return
                status, body = answered
            else:
                status, body = await answering
        except AppError as error:  # mid-poll: the token was revoked while waiting
            await app_error_response(error)(scope, receive, send)
            return
        await _answer(send, status, body, _JSON if status == 200 else None)

    async def _heartbeat(self, scope: Scope, receive: Receive, send: Send) -> None:
        arrived_at = utcnow()
        caller = await self._terminal(scope) if _json_body(scope) else None
        if caller is None:
            await self.app(scope, receive, send)
            return
        read = await _read_body(receive)
        if read is None:  # the client went away
            return
        raw, complete = read
        try:
            if not complete:
                raise ValueError("too big for the fast path")
            body = HeartbeatIn.model_validate_json(raw)
        except (ValidationError, ValueError):
            await self.app(scope, replay_body(raw, receive, more=not complete), send)
            return
        ack = await accept_heartbeat(scope["app"], caller[1], body, arrived_at)
        await _answer(send, 200, ack.model_dump_json().encode(), _JSON)


async def _unless_gone(answering: Coroutine[Any, Any, T], receive: Receive) -> T | None:
    """Await the answer, or give it up (None) as soon as the client disconnects: a terminal
    that went away (rebooted, reconnected through another node) must not stay counted
    as waiting, nor have a program built for it at the next change."""
    answer = asyncio.ensure_future(answering)
    gone = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait((answer, gone), return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
    if not answer.done():
        answer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await answer
        return None
    return answer.result()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _read_body(receive: Receive) -> tuple[bytes, bool] | None:
    """The request body up to :data:`MAX_BODY` and whether that is all of it; None when the
    client disconnected."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more and size <= MAX_BODY:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks), not more
