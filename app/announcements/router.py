"""HTTP routes for announcements: CRUD, revisions, review, recordings and renders."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.announcements import service
from app.announcements.recordings import store_recording
from app.announcements.schemas import (
    AnnouncementCreate,
    AnnouncementRead,
    AnnouncementUpdate,
    RejectRequest,
    RevisionRead,
    RevisionStatus,
)
from app.auth.deps import CurrentPrincipal, require
from app.auth.permissions import Principal
from app.config import get_settings
from app.db import DbSession
from app.errors import Forbidden, NotFound
from app.media.uploads import UPLOAD_DIR_NAME, Upload, check_declared_length, receive_file
from app.pagination import Page, Paging, Search, fetch_page

__all__ = ["router"]

StatusFilter = Annotated[RevisionStatus | None, Query(description="the newest revision's status")]
AreaFilter = Annotated[str | None, Query(max_length=64, description="an area and its sub-areas")]

router = APIRouter(prefix="/api/v1/announcements", tags=["announcements"])
Reader = Annotated[Principal, Depends(require("content:read"))]
Writer = Annotated[Principal, Depends(require("content:write"))]
Reviewer = Annotated[Principal, Depends(require("content:review"))]


def _writer_or_reviewer(principal: CurrentPrincipal) -> Principal:
    if not (principal.can("content:write") or principal.can("content:review")):
        raise Forbidden("this needs the 'content:write' or 'content:review' permission")
    return principal


Renderer = Annotated[Principal, Depends(_writer_or_reviewer)]

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary",
                                            "description": "mp3, wav, m4a/aac, ogg/opus or amr"}},
                }
            }
        },
    }
}


@router.post("", status_code=201, response_model=AnnouncementRead)
def create_announcement(data: AnnouncementCreate, principal: Writer,
                        session: DbSession) -> AnnouncementRead:
    """Create an announcement; its first revision is a draft."""
    announcement = service.create_announcement(session=session, principal=principal, data=data)
    return service.to_read(session, announcement)


@router.get("", response_model=Page[AnnouncementRead])
def list_announcements(
    principal: Reader,
    session: DbSession,
    paging: Paging,
    area: AreaFilter = None,
    status: StatusFilter = None,
    q: Search = None,
) -> Page[AnnouncementRead]:
    """Announcements inside the caller's area, newest change first; ``q`` searches the
    title, category and script."""
    stmt = service.list_announcements(session=session, principal=principal, area=area,
                                      status=status, q=q)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=[service.to_read(session, a) for a in rows], total=total)


@router.get("/{announcement_id}", response_model=AnnouncementRead)
def get_announcement(announcement_id: str, principal: Reader,
                     session: DbSession) -> AnnouncementRead:
    """One announcement as its newest revision shows it, with its audio."""
    announcement = service.get_announcement(session=session, principal=principal,
                                            announcement_id=announcement_id)
    return service.to_read(session, announcement)


@router.patch("/{announcement_id}", response_model=AnnouncementRead)
def update_announcement(announcement_id: str, data: AnnouncementUpdate, principal: Writer,
                        session: DbSession) -> AnnouncementRead:
    """Change the title, body or category: a new revision, back to draft.

    A PATCH that changes nothing (the same text, or no field at all) makes no revision: the
    announcement is answered as it is, its approval untouched.
    """
    announcement = service.update_announcement(session=session, principal=principal,
                                               announcement_id=announcement_id, data=data)
    return service.to_read(session, announcement)


@router.get("/{announcement_id}/revisions", response_model=Page[RevisionRead])
def list_revisions(announcement_id: str, principal: Reader, session: DbSession,
                   paging: Paging) -> Page[RevisionRead]:
    """The history: every revision with who wrote, submitted and reviewed it, newest first."""
    stmt = service.list_revisions(session=session, principal=principal,
                                  announcement_id=announcement_id)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=[service.revision_read(session, r) for r in rows], total=total)


@router.get("/{announcement_id}/revisions/{number}", response_model=RevisionRead)
def get_revision(announcement_id: str, number: int, principal: Reader,
                 session: DbSession) -> RevisionRead:
    """One revision of the history."""
    service.get_announcement(session=session, principal=principal,
                             announcement_id=announcement_id)
    revision = service.get_revision(session, announcement_id, number)
    if revision is None:
        raise NotFound(f"announcement {announcement_id!r} has no revision {number}")
    return service.revision_read(session, revision)


@router.post("/{announcement_id}/submit", response_model=AnnouncementRead)
def submit(announcement_id: str, principal: Writer, session: DbSession) -> AnnouncementRead:
    """Send the draft for review (→ pending_review)."""
    announcement = service.submit(session=session, principal=principal,
                                  announcement_id=announcement_id)
    return service.to_read(session, announcement)


@router.post("/{announcement_id}/approve", response_model=AnnouncementRead)
def approve(announcement_id: str, principal: Reviewer, session: DbSession) -> AnnouncementRead:
    """Approve the revision under review (not its author); its audio is rendered."""
    announcement = service.approve(session=session, principal=principal,
                                   announcement_id=announcement_id)
    return service.to_read(session, announcement)


@router.post("/{announcement_id}/reject", response_model=AnnouncementRead)
def reject(announcement_id: str, data: RejectRequest, principal: Reviewer,
           session: DbSession) -> AnnouncementRead:
    """Send the revision under review back, with the reason."""
    announcement = service.reject(session=session, principal=principal,
                                  announcement_id=announcement_id, reason=data.reason)
    return service.to_read(session, announcement)


@router.post("/{announcement_id}/render", response_model=AnnouncementRead)
def render(announcement_id: str, principal: Renderer, session: DbSession) -> AnnouncementRead:
    """Render the newest revision now (a preview, or again after a failure); poll for audio."""
    announcement = service.request_render(session=session, principal=principal,
                                          announcement_id=announcement_id)
    return service.to_read(session, announcement)


@router.post("/{announcement_id}/recording", response_model=AnnouncementRead,
             openapi_extra=_UPLOAD_BODY,
             responses={413: {"description": "larger than CUNXIANG_MAX_UPLOAD_MB"},
                        415: {"description": "not audio in a supported format"},
                        422: {"description": "unreadable, or longer than "
                                              "CUNXIANG_MAX_RECORDING_MINUTES (from its header)"},
                        503: {"description": "the recording workers are busy or timed out"}})
async def upload_recording(announcement_id: str, request: Request, principal: Writer,
                           session: DbSession) -> AnnouncementRead:
    """Attach a recorded voice (multipart field ``file``): a new draft revision that plays it.

    Accepts mp3, wav, m4a/aac, ogg/opus and amr; it is mastered to −16 LUFS mono MP3.
    """
    await run_in_threadpool(service.get_announcement, session=session, principal=principal,
                            announcement_id=announcement_id)  # 404 / 403 before the upload
    settings = get_settings()
    check_declared_length(request.headers.get("content-length"), settings.max_upload_bytes)
    upload = await receive_file(
        request.stream(), content_type=request.headers.get("content-type"), field_name="file",
        directory=settings.media_dir / UPLOAD_DIR_NAME, max_bytes=settings.max_upload_bytes,
    )
    try:
        return await run_in_threadpool(_attach, session, principal, announcement_id, upload)
    finally:
        upload.discard()


def _attach(session: Session, principal: Principal, announcement_id: str,
            upload: Upload) -> AnnouncementRead:
    media = store_recording(session=session, upload=upload)
    announcement = service.attach_recording(session=session, principal=principal,
                                            announcement_id=announcement_id, media=media)
    return service.to_read(session, announcement)


@router.delete("/{announcement_id}/recording", response_model=AnnouncementRead)
def remove_recording(announcement_id: str, principal: Writer,
                     session: DbSession) -> AnnouncementRead:
    """Drop the recording: a new draft revision spoken by text-to-speech again."""
    announcement = service.detach_recording(session=session, principal=principal,
                                            announcement_id=announcement_id)
    return service.to_read(session, announcement)
