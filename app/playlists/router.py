"""HTTP routes for playlists and their M3U8 form."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession
from app.errors import Conflict
from app.pagination import Page, Paging, Search, fetch_page
from app.playlists import service
from app.playlists.m3u8 import M3U8_MEDIA_TYPE, render_m3u8
from app.playlists.schemas import PlaylistCreate, PlaylistRead, PlaylistUpdate

__all__ = ["router"]

AreaFilter = Annotated[str | None, Query(max_length=64, description="an area and its sub-areas")]

router = APIRouter(prefix="/api/v1/playlists", tags=["playlists"])
Reader = Annotated[Principal, Depends(require("content:read"))]
Writer = Annotated[Principal, Depends(require("content:write"))]


@router.post("", status_code=201, response_model=PlaylistRead)
def create_playlist(data: PlaylistCreate, principal: Writer, session: DbSession) -> PlaylistRead:
    """Create a playlist of announcements, stored media and silences."""
    playlist = service.create_playlist(session=session, principal=principal, data=data)
    return service.to_read(session, playlist)


@router.get("", response_model=Page[PlaylistRead])
def list_playlists(
    principal: Reader,
    session: DbSession,
    paging: Paging,
    area: AreaFilter = None,
    q: Search = None,
) -> Page[PlaylistRead]:
    """Playlists inside the caller's area (or the given one), by name; ``q`` searches names."""
    stmt = service.list_playlists(session=session, principal=principal, area=area, q=q)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=[service.to_read(session, p) for p in rows], total=total)


@router.get(
    "/{playlist_id}.m3u8",
    response_class=Response,
    responses={200: {"content": {M3U8_MEDIA_TYPE: {}},
                     "description": "an extended M3U playlist with absolute media URLs"}},
)
def get_m3u8(playlist_id: str, request: Request, principal: Reader,
             session: DbSession) -> Response:
    """The playlist as extended M3U (``#EXTINF`` + absolute ``/media`` URLs) for any player."""
    playlist = service.get_playlist(session=session, principal=principal,
                                    playlist_id=playlist_id)
    playout = service.playout_media(session, playlist.id)
    if playout is None or not playout.items:
        raise Conflict("nothing in this playlist can play yet (no approved, rendered audio)")
    body = render_m3u8(playout.items, base_url=str(request.base_url))
    return Response(body, media_type=M3U8_MEDIA_TYPE,
                    headers={"Cache-Control": "no-cache",
                             "Content-Disposition": f'inline; filename="{playlist.id}.m3u8"'})


@router.get("/{playlist_id}", response_model=PlaylistRead)
def get_playlist(playlist_id: str, principal: Reader, session: DbSession) -> PlaylistRead:
    """One playlist with its total length and status."""
    playlist = service.get_playlist(session=session, principal=principal,
                                    playlist_id=playlist_id)
    return service.to_read(session, playlist)


@router.patch("/{playlist_id}", response_model=PlaylistRead)
def update_playlist(playlist_id: str, data: PlaylistUpdate, principal: Writer,
                    session: DbSession) -> PlaylistRead:
    """Change the name, items, chime or gap; schedules using it re-issue their orders."""
    playlist = service.update_playlist(session=session, principal=principal,
                                       playlist_id=playlist_id, data=data)
    return service.to_read(session, playlist)


@router.delete("/{playlist_id}", status_code=204, response_class=Response)
def delete_playlist(playlist_id: str, principal: Writer, session: DbSession) -> Response:
    """Delete a playlist (409 while a schedule uses it)."""
    service.delete_playlist(session=session, principal=principal, playlist_id=playlist_id)
    return Response(status_code=204)
