"""``GET /media/{sha256}``: any stored audio, open to every player (the hash is the capability).

Files never change, so the answer carries the hash as a strong ETag and may be cached for a
year; Range requests (206, 416) let players seek and terminals resume downloads.
``/media/{sha256}.mp3`` is the same file, for players that go by the name's extension.
With shared media (``CUNXIANG_MEDIA_URL``) any node answers: from its local copy, fetched
from the object store on first use (hash checked); 503 if the store cannot be reached.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request, Response
from starlette.datastructures import Headers
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

from app.db import DbSession
from app.errors import NotFound
from app.media.service import stored_path

__all__ = ["router"]

router = APIRouter(tags=["media"])

CACHE_CONTROL = "public, max-age=31536000, immutable"
_RANGE = re.compile(r"^bytes=\s*(\d*-\d*)(\s*,\s*\d*-\d*)*\s*$")


class _MediaFileResponse(FileResponse):
    """A FileResponse that ignores a malformed Range header (RFC 9110) instead of a 400."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        value = Headers(scope=scope).get("range")
        if value is not None and (not _RANGE.match(value) or value.strip() == "bytes=-"):
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"range"]}
        await super().__call__(scope, receive, send)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {"audio/mpeg": {}}, "description": "the whole file"},
    206: {"description": "the requested byte range"},
    304: {"description": "the client's copy is current (If-None-Match)"},
    404: {"description": "no stored file has this hash"},
    416: {"description": "the range lies outside the file"},
}


def _serve(sha256: str, request: Request, session: DbSession) -> Response:
    found = stored_path(session, sha256.removesuffix(".mp3"))
    if found is None:
        raise NotFound("no stored media has this hash")
    media, path = found
    etag = f'"{media.sha256}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return _MediaFileResponse(path, media_type=media.content_type, headers=headers)


@router.get("/media/{sha256}", response_class=Response, responses=_RESPONSES)
def get_media(sha256: str, request: Request, session: DbSession) -> Response:
    """A stored audio file by its SHA-256 (``.mp3`` may follow); no token needed.

    Supports Range (206, 416), ETag / If-None-Match (304) and HEAD.
    """
    return _serve(sha256, request, session)


@router.head("/media/{sha256}", response_class=Response, responses=_RESPONSES)
def head_media(sha256: str, request: Request, session: DbSession) -> Response:
    """The headers of ``GET /media/{sha256}`` (length, ETag) without the body."""
    return _serve(sha256, request, session)
