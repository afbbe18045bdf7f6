"""The door: body size limits (413) and text no database can store (422), before anything else.

:class:`RequestGuard` is a plain ASGI layer in front of the terminal fast path and of
FastAPI, so every request meets the same rules whichever path answers it:

- **Body size.** A JSON or form body may be ``CUNXIANG_MAX_JSON_KB``; a CAP document
  ``CUNXIANG_MAX_CAP_MB``; a CSV area import ``CUNXIANG_MAX_IMPORT_MB``; a recording
  ``CUNXIANG_MAX_UPLOAD_MB`` (plus the multipart framing). A declared ``Content-Length``
  over the limit is answered 413 at once, before a byte of the body is read (and before
  authentication); a chunked body is cut off at the limit with 413.
- **Streamed bodies** (recordings, CAP documents, CSV imports) are not read here: their
  routes authenticate first and then read the stream, which this layer counts.
- **Hostile text.** A NUL character or a lone surrogate in the path, the query, a header,
  a JSON body (keys included) or a form is answered 422 ``validation_error`` naming the
  field (see :mod:`app.inputs`). Other bodies are binary or checked by their route.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qsl

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings, get_settings
from app.errors import PayloadTooLarge, app_error_response
from app.inputs import find_hostile, find_hostile_in_json, hostile_reason
from app.media.uploads import MULTIPART_OVERHEAD

__all__ = ["RequestGuard", "BodyLimit", "STREAMED_BODIES", "body_limit_for", "replay_body"]


@dataclass(frozen=True)
class BodyLimit:
    """How big a body may be, what it is, and which setting says so."""

    max_bytes: int
    what: str
    setting: str
    streamed: bool = False

    def refusal(self) -> PayloadTooLarge:
        """The 413 for a body over this limit."""
        return PayloadTooLarge(f"the body is larger than the {_size(self.max_bytes)} allowed "
                               f"for {self.what} ({self.setting})")


def _size(n: int) -> str:
    mb = 1024 * 1024
    return f"{n // mb} MB" if n % mb == 0 else f"{n // 1024} KB"


# Routes that read their own body as a stream once the caller is authenticated.
STREAMED_BODIES: list[tuple[str, re.Pattern[str], Callable[[Settings], BodyLimit]]] = [
    ("POST", re.compile(r"/api/v1/announcements/[^/]+/recording"), lambda s: BodyLimit(
        s.max_upload_bytes + MULTIPART_OVERHEAD, "a recording", "CUNXIANG_MAX_UPLOAD_MB",
        streamed=True)),
    ("POST", re.compile(r"/api/v1/broadcasts/cap"), lambda s: BodyLimit(
        s.max_cap_bytes, "a CAP document", "CUNXIANG_MAX_CAP_MB", streamed=True)),
    ("POST", re.compile(r"/api/v1/areas/import"), lambda s: BodyLimit(
        s.max_import_bytes, "a CSV import", "CUNXIANG_MAX_IMPORT_MB", streamed=True)),
]


_STREAMED_PREFIXES = ("/api/v1/announcements/", "/api/v1/broadcasts/cap", "/api/v1/areas/import")


@lru_cache(maxsize=8)
def _request_limit(max_bytes: int) -> BodyLimit:
    return BodyLimit(max_bytes, "a request", "CUNXIANG_MAX_JSON_KB")


def body_limit_for(method: str, path: str, settings: Settings | None = None) -> BodyLimit:
    """The limit on the body of ``method path``."""
    settings = settings or get_settings()
    if method == "POST" and path.startswith(_STREAMED_PREFIXES):
        for wanted, pattern, limit in STREAMED_BODIES:
            if method == wanted and pattern.fullmatch(path):
                return limit(settings)
    return _request_limit(settings.max_json_bytes)


class _Head(NamedTuple):
    """What the guard reads of the headers, in one pass."""

    length: int | None  # the declared Content-Length
    chunked: bool  # a Transfer-Encoding
    media: bytes  # the Content-Type's media type, lower case
    nul_in: str | None  # the first header whose value holds a NUL


_HEAD_FIELDS = frozenset((b"content-length", b"transfer-encoding", b"content-type"))


def _read_head(scope: Scope) -> _Head:
    found: dict[bytes, bytes] = {}
    nul_in = None
    for name, value in scope["headers"]:  # every request passes here: kept to the minimum
        if name in _HEAD_FIELDS:
            found[name] = value
        if b"\x00" in value and nul_in is None:
            nul_in = name.decode("latin-1")
    declared = found.get(b"content-length")
    media = found.get(b"content-type")
    return _Head(int(declared) if declared is not None and declared.isdigit() else None,
                 b"transfer-encoding" in found,
                 media.split(b";", 1)[0].strip().lower() if media is not None else b"",
                 nul_in)


def _path(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


_NUL = "a NUL character (U+0000) is not allowed"


def _hostile_in_request_line(scope: Scope, head: _Head) -> tuple[str, str] | None:
    """``(field, reason)`` for a NUL in the path, a query parameter or a header."""
    if "\x00" in scope["path"]:
        return "path", _NUL
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:  # percent-decoding yields no lone surrogates
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            reason = hostile_reason(name) or hostile_reason(value)
            if reason:
                return name.replace("\x00", "\ufffd") or "query", reason
    if head.nul_in is not None:
        return head.nul_in, _NUL
    return None


def _hostile_in_body(media: bytes, body: bytes) -> tuple[str, str] | None:
    if media in (b"", b"application/json") or (
            media.startswith(b"application/") and media.endswith(b"+json")):
        return find_hostile_in_json(body)  # no content type: FastAPI reads JSON too
    if media == b"application/x-www-form-urlencoded":
        if b"%00" not in body and b"\x00" not in body:
            return None
        return find_hostile(dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True)))
    if media == b"multipart/form-data" and b"\x00" in body:  # no route here takes a file
        return "body", _NUL
    return None


def _invalid(field: str, reason: str) -> JSONResponse:
    return JSONResponse({"error": "validation_error", "detail": f"{field}: {reason}",
                         "fields": [{"field": field, "detail": reason}]}, status_code=422)


class RequestGuard:
    """ASGI middleware: body limits and hostile text, for every request, before any route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = _read_head(scope)
        hostile = _hostile_in_request_line(scope, head)
        if hostile is not None:
            await _invalid(*hostile)(scope, receive, send)
            return
        if not head.length and not head.chunked:  # no body
            await self.app(scope, receive, send)
            return
        limit = body_limit_for(scope["method"], _path(scope))
        if head.length is not None and head.length > limit.max_bytes:
            await app_error_response(limit.refusal())(scope, receive, send)
            return
        if limit.streamed:
            await self.app(scope, _counted(receive, limit), send)
            return
        read = await _read_up_to(receive, limit.max_bytes)
        if read is None:  # the client went away
            return
        body, complete = read
        if not complete:
            await app_error_response(limit.refusal())(scope, receive, send)
            return
        hostile = _hostile_in_body(head.media, body)
        if hostile is not None:
            await _invalid(*hostile)(scope, receive, send)
            return
        await self.app(scope, replay_body(body, receive), send)


async def _read_up_to(receive: Receive, max_bytes: int) -> tuple[bytes, bool] | None:
    """The body, and whether it is all there within ``max_bytes`` (reading stops past it);
    None when the client disconnected."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return b"", False
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks), True


def replay_body(body: bytes, receive: Receive, *, more: bool = False) -> Receive:
    """A ``receive`` that hands on the body already read, then whatever else comes (the
    rest of the body when ``more``)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": more}
        return await receive()

    return replayed


def _counted(receive: Receive, limit: BodyLimit) -> Receive:
    """A ``receive`` that raises 413 (to the route reading the stream) past the limit."""
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit.max_bytes:
                raise limit.refusal()
        return message

    return counted
