"""HTTP routes: the pronunciation lexicon, and previews of announcements and broadcast text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from app.announcements import service as announcements
from app.announcements.router import Renderer
from app.areas.service import get_area_in_scope
from app.auth.deps import CurrentPrincipal, require
from app.auth.permissions import Principal
from app.broadcasts import service as broadcasts
from app.db import DbSession, utcnow
from app.errors import NotFound
from app.media.models import MediaFile
from app.media.service import media_url
from app.pagination import Page, Paging, fetch_page
from app.pronunciations import service
from app.pronunciations.lookup import lexicon_for_area, lexicon_for_path
from app.pronunciations.previews import PREVIEW_TTL, Preview, make_preview, preview_path
from app.pronunciations.schemas import (
    BroadcastPreviewRequest,
    PreviewRead,
    PreviewRequest,
    PronunciationCreate,
    PronunciationRead,
    PronunciationUpdate,
)

__all__ = ["router"]

router = APIRouter(tags=["pronunciations"])
Reader = Annotated[Principal, Depends(require("content:read"))]
Writer = Annotated[Principal, Depends(require("content:write"))]
Broadcaster = Annotated[Principal, Depends(require("broadcasts:write"))]


# Whoever may ask for a render of an announcement may hear it: its writers and reviewers.
Listener = Renderer
_PREFIX = "/api/v1/pronunciations"


@router.post(_PREFIX, status_code=201, response_model=PronunciationRead)
def create_pronunciation(data: PronunciationCreate, principal: Writer,
                         session: DbSession) -> PronunciationRead:
    """Read ``word`` as ``pinyin`` in ``area`` and below; approved scripts saying it re-render."""
    return service.create_pronunciation(session=session, principal=principal, data=data)


@router.get(_PREFIX, response_model=Page[PronunciationRead])
def list_pronunciations(
    principal: Reader, session: DbSession, paging: Paging,
    area: Annotated[str | None, Query(max_length=64, description="an area and below")] = None,
    word: Annotated[str | None, Query(max_length=20)] = None,
) -> Page[PronunciationRead]:
    """Entries inside the caller's area, by area and word."""
    stmt = service.list_pronunciations(session=session, principal=principal, area=area,
                                       word=word)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=[service.to_read(row) for row in rows], total=total)


@router.get(_PREFIX + "/{entry_id}", response_model=PronunciationRead)
def get_pronunciation(entry_id: str, principal: Reader, session: DbSession) -> PronunciationRead:
    """One entry."""
    return service.to_read(service.get_pronunciation(session=session, principal=principal,
                                                     entry_id=entry_id))


@router.patch(_PREFIX + "/{entry_id}", response_model=PronunciationRead)
def update_pronunciation(entry_id: str, data: PronunciationUpdate, principal: Writer,
                         session: DbSession) -> PronunciationRead:
    """Change the pinyin or the note; a new pinyin re-renders the approved scripts saying it."""
    return service.update_pronunciation(session=session, principal=principal,
                                        entry_id=entry_id, data=data)


@router.delete(_PREFIX + "/{entry_id}", status_code=204)
def delete_pronunciation(entry_id: str, principal: Writer, session: DbSession) -> Response:
    """Remove an entry; the approved scripts saying the word re-render without it."""
    service.delete_pronunciation(session=session, principal=principal, entry_id=entry_id)
    return Response(status_code=204)


def _read(preview: Preview, revision: int | None = None) -> PreviewRead:
    return PreviewRead(url=preview.url, pinyin=preview.pinyin, duration_ms=preview.duration_ms,
                       expires_at=preview.expires_at, revision=revision)


@router.post(_PREFIX + "/preview", response_model=PreviewRead)
def preview_text(data: PreviewRequest, principal: Reader, session: DbSession) -> PreviewRead:
    """Hear a text as it is read in ``area`` (with ``word``/``pinyin`` as if already saved)."""
    lexicon: list[tuple[str, str]] = []
    if data.area is not None:
        area = get_area_in_scope(session=session, principal=principal, code=data.area)
        lexicon.extend(lexicon_for_path(session, area.path))
    if data.word and data.pinyin:
        lexicon.append((data.word, data.pinyin))
    return _read(make_preview(data.text, lexicon))


@router.post("/api/v1/announcements/{announcement_id}/preview", response_model=PreviewRead,
             tags=["announcements"])
def preview_announcement(announcement_id: str, principal: Listener,
                         session: DbSession) -> PreviewRead:
    """Render the newest revision as it would be spoken: a short-lived MP3 and its pinyin.

    Nothing is stored as the announcement's audio. A revision with a recording answers the
    recording itself (nothing to synthesise).
    """
    announcement = announcements.get_announcement(session=session, principal=principal,
                                                  announcement_id=announcement_id)
    revision = announcements.current_revision(session, announcement)
    if revision.recording_sha256 is not None:
        return _recording_preview(session, revision.recording_sha256, revision.number)
    lexicon = lexicon_for_area(session, announcement.area_code)
    return _read(make_preview(revision.body, lexicon), revision.number)


def _recording_preview(session: Session, sha256: str, number: int) -> PreviewRead:
    media = session.get(MediaFile, sha256)
    return PreviewRead(url=media_url(sha256), pinyin="",
                       duration_ms=media.duration_ms if media else 0,
                       expires_at=utcnow() + PREVIEW_TTL, revision=number)


@router.post("/api/v1/broadcasts/preview", response_model=PreviewRead, tags=["broadcasts"])
def preview_broadcast(data: BroadcastPreviewRequest, principal: Broadcaster,
                      session: DbSession) -> PreviewRead:
    """Hear an urgent broadcast's text before sending it (an exercise with its drill notice)."""
    _, area_path = broadcasts.resolve_targets(session=session, principal=principal,
                                              codes=data.targets)
    lexicon = lexicon_for_path(session, area_path)
    return _read(make_preview(data.text, lexicon, drill=data.mode == "exercise"))


@router.get("/api/v1/previews/{name}", response_class=FileResponse,
            responses={200: {"content": {"audio/mpeg": {}}}, 404: {}})
def get_preview(name: str, principal: CurrentPrincipal) -> FileResponse:
    """A preview's MP3 while it lasts (an hour); any signed-in user or key may fetch it."""
    path = preview_path(name.removesuffix(".mp3"))
    if path is None:
        raise NotFound("no such preview (they are kept for an hour)")
    return FileResponse(path, media_type="audio/mpeg",
                        headers={"Cache-Control": "private, max-age=3600"})
