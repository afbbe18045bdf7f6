"""HTTP routes of the speaker registry (``/api/v1/speakers``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession
from app.pagination import Page, Paging, Search, fetch_page
from app.speakers import service
from app.speakers.deps import FreshHeartbeats
from app.speakers.schemas import (
    SpeakerCreate,
    SpeakerCreated,
    SpeakerRead,
    SpeakerUpdate,
    Status,
    TokenIssued,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/speakers", tags=["speakers"])
Reader = Annotated[Principal, Depends(require("speakers:read"))]
Writer = Annotated[Principal, Depends(require("speakers:write"))]


def _one(session: DbSession, speaker: object) -> SpeakerRead:
    return service.speakers_read(session, [speaker])[0]  # type: ignore[list-item]


@router.post("", status_code=201, response_model=SpeakerCreated)
def create_speaker(data: SpeakerCreate, principal: Writer, session: DbSession) -> SpeakerCreated:
    """Register a terminal in a village; the answer carries its token, shown this once."""
    speaker, token = service.create_speaker(session=session, principal=principal, data=data)
    return SpeakerCreated(**_one(session, speaker).model_dump(), token=token)


@router.get("", response_model=Page[SpeakerRead], dependencies=[FreshHeartbeats])
def list_speakers(
    principal: Reader,
    session: DbSession,
    paging: Paging,
    village: Annotated[str | None, Query(max_length=64)] = None,
    town: Annotated[str | None, Query(max_length=64)] = None,
    area: Annotated[str | None,
                    Query(max_length=64, description="any area: all its villages")] = None,
    status: Annotated[Status | None, Query()] = None,
    q: Search = None,
) -> Page[SpeakerRead]:
    """Speakers inside the caller's area, by village, town, area or status; ``q`` searches
    the serial, name, location and village name."""
    stmt = service.list_speakers(session=session, principal=principal, village=village,
                                 town=town, area=area, status=status, q=q)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=service.speakers_read(session, rows), total=total)


@router.get("/{speaker_id}", response_model=SpeakerRead, dependencies=[FreshHeartbeats])
def get_speaker(speaker_id: str, principal: Reader, session: DbSession) -> SpeakerRead:
    """One speaker with its derived status."""
    speaker = service.get_speaker_in_scope(session=session, principal=principal,
                                           speaker_id=speaker_id)
    return _one(session, speaker)


@router.patch("/{speaker_id}", response_model=SpeakerRead, dependencies=[FreshHeartbeats])
def update_speaker(
    speaker_id: str, data: SpeakerUpdate, principal: Writer, session: DbSession
) -> SpeakerRead:
    """Move to another village, rename, reposition, or switch maintenance on or off."""
    speaker = service.update_speaker(session=session, principal=principal,
                                     speaker_id=speaker_id, data=data)
    return _one(session, speaker)


@router.delete("/{speaker_id}", status_code=204)
def retire_speaker(speaker_id: str, principal: Writer, session: DbSession) -> Response:
    """Retire a speaker: it leaves the registry and its token stops working."""
    service.retire_speaker(session=session, principal=principal, speaker_id=speaker_id)
    return Response(status_code=204)


@router.post("/{speaker_id}/token", response_model=TokenIssued)
def rotate_token(speaker_id: str, principal: Writer, session: DbSession) -> TokenIssued:
    """Issue a new token (shown once); the previous one answers 401 at once."""
    speaker, token = service.rotate_token(session=session, principal=principal,
                                          speaker_id=speaker_id)
    assert speaker.token_prefix is not None and speaker.token_issued_at is not None
    return TokenIssued(id=speaker.id, serial=speaker.serial, token=token,
                       token_prefix=speaker.token_prefix, issued_at=speaker.token_issued_at)
