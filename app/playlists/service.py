"""Playlist rules, and what a playlist plays: the media list schedules and broadcasts issue.

``playout_media`` is the contract other parts build on: the files of one loop of the
playlist, in play order — opening chime, each item (an announcement's newest approved
revision with ready audio, a stored file or a silence) with ``gap_ms`` of silence between
consecutive entries, closing chime. Silences and chimes are real MP3 files in the media
store, made once and shared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.announcements.models import Announcement, Revision
from app.announcements.service import get_announcement, last_approved_revision
from app.areas.models import Area
from app.areas.service import get_area_in_scope
from app.audit.service import record
from app.auth.permissions import Principal
from app.auth.scope import within
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.media.models import MediaFile
from app.media.service import chime_media, get_media, media_url, silence_media
from app.pagination import matching
from app.playlists.models import Playlist, PlaylistItem
from app.playlists.schemas import (
    AnnouncementItem,
    MediaItem,
    PlaylistCreate,
    PlaylistItemIn,
    PlaylistRead,
    PlaylistUpdate,
)
from app.runtime.events import emit

__all__ = [
    "PlayoutMedia",
    "playout_media",
    "unapproved_items",
    "playlist_status",
    "playlists_using_announcement",
    "get_playlist",
    "create_playlist",
    "update_playlist",
    "delete_playlist",
    "list_playlists",
    "to_read",
    "PLAYLIST_USAGE_CHECKS",
    "install_usage_checks",
    "playlists_in_area",
]

# Why a playlist is still in use (or None), asked of the parts that refer to playlists
# (schedules) before one is deleted; installed at start-up by app.wiring.
PLAYLIST_USAGE_CHECKS: list[Callable[[Session, Playlist], str | None]] = []


def install_usage_checks(checks: Sequence[Callable[[Session, Playlist], str | None]]) -> None:
    """The checks :func:`delete_playlist` asks, in this order (replacing any installed before)."""
    PLAYLIST_USAGE_CHECKS[:] = checks


@dataclass(frozen=True)
class PlayoutMedia:
    """One loop of a playlist: ``items`` ``{url, sha256, duration_ms, title}`` in play order,
    their total ``duration_ms``, and ``ready`` (False while approved audio is still rendering
    or failed: those announcements are left out until it is ready)."""

    items: list[dict[str, Any]]
    duration_ms: int
    ready: bool
    # Approved announcements whose audio is still rendering, estimated from their text at
    # four characters a second: a schedule's slot is known before its audio is.
    pending_ms: int = 0


# ---------------------------------------------------------------- playout


@dataclass(frozen=True)
class _Entry:
    media: MediaFile
    title: str


def _announcement_entry(session: Session, announcement_id: str) -> tuple[_Entry | None, bool]:
    """The newest approved revision with ready audio (None if none); and whether the newest
    approved revision itself is ready."""
    newest = last_approved_revision(session, announcement_id)
    if newest is None:
        return None, True
    playable = newest if newest.audio_status == "ready" else session.scalar(
        select(Revision)
        .where(Revision.announcement_id == announcement_id, Revision.status == "approved",
               Revision.audio_status == "ready")
        .order_by(Revision.number.desc()).limit(1)
    )
    ready = newest.audio_status == "ready"
    if playable is None or playable.audio_sha256 is None:
        return None, ready
    media = session.get(MediaFile, playable.audio_sha256)
    return (_Entry(media, playable.title) if media else None), ready


SPOKEN_MS_PER_CHAR = 250  # broadcast Mandarin runs at about four characters a second


def _pending_estimate_ms(session: Session, item: PlaylistItem) -> int:
    """For an announcement with no playable audio yet, the length its text will take."""
    if item.announcement_id is None:
        return 0
    newest = last_approved_revision(session, item.announcement_id)
    if newest is None or newest.audio_status != "pending":
        return 0
    spoken = sum(1 for char in newest.body if not char.isspace())
    return max(1000, spoken * SPOKEN_MS_PER_CHAR)


def _item_entry(session: Session, item: PlaylistItem) -> tuple[_Entry | None, bool]:
    if item.announcement_id is not None:
        return _announcement_entry(session, item.announcement_id)
    if item.media_sha256 is not None:
        media = session.get(MediaFile, item.media_sha256)
        return (_Entry(media, media.title or "音频") if media else None), True
    return _Entry(silence_media(session, int(item.silence_ms or 0)), "静音"), True


def _framed(session: Session, playlist: Playlist, entries: list[_Entry]) -> list[_Entry]:
    """Chimes around the entries and a gap of silence between consecutive ones."""
    if not entries:
        return []
    if playlist.chime:
        opening, closing = chime_media(session, "opening"), chime_media(session, "closing")
        entries = [_Entry(opening, opening.title or "提示音"), *entries,
                   _Entry(closing, closing.title or "提示音")]
    if playlist.gap_ms <= 0 or len(entries) < 2:
        return entries
    gap = _Entry(silence_media(session, playlist.gap_ms), "间隔")
    framed = [entries[0]]
    for entry in entries[1:]:
        framed += [gap, entry]
    return framed


def _playout(session: Session, playlist: Playlist) -> PlayoutMedia:
    entries: list[_Entry] = []
    pending: list[int] = []
    ready = True
    for item in playlist.items:
        entry, item_ready = _item_entry(session, item)
        ready = ready and item_ready
        if entry is not None:
            entries.append(entry)
        elif estimate := _pending_estimate_ms(session, item):
            pending.append(estimate)
    framed = _framed(session, playlist, entries)
    items: list[dict[str, Any]] = [
        {"url": media_url(e.media.sha256), "sha256": e.media.sha256,
         "duration_ms": e.media.duration_ms, "title": e.title}
        for e in framed
    ]
    return PlayoutMedia(items=items, duration_ms=sum(e.media.duration_ms for e in framed),
                        ready=ready, pending_ms=_pending_ms(session, playlist, entries, pending))


def _pending_ms(session: Session, playlist: Playlist, entries: list[_Entry],
                pending: list[int]) -> int:
    """What the announcements still rendering will add: their estimates, the gaps around
    them, and the chimes if nothing else is playable yet."""
    if not pending:
        return 0
    added = sum(pending)
    chimes = 2 if playlist.chime else 0
    if chimes and not entries:
        added += sum(chime_media(session, kind).duration_ms for kind in ("opening", "closing"))
    if playlist.gap_ms > 0:
        gaps_now = len(entries) + chimes - 1 if entries else 0
        added += (len(entries) + len(pending) + chimes - 1 - gaps_now) * playlist.gap_ms
    return added


def playout_media(session: Session, playlist_id: str) -> PlayoutMedia | None:
    """What one loop of the playlist plays, in order; None if the playlist does not exist."""
    playlist = session.get(Playlist, playlist_id)
    return None if playlist is None else _playout(session, playlist)


def unapproved_items(session: Session, playlist_id: str) -> list[str]:
    """Ids of the playlist's announcements that have no approved revision at all."""
    approved = select(Revision.announcement_id).where(Revision.status == "approved")
    found = session.scalars(
        select(PlaylistItem.announcement_id)
        .where(PlaylistItem.playlist_id == playlist_id,
               PlaylistItem.announcement_id.is_not(None),
               PlaylistItem.announcement_id.not_in(approved))
        .order_by(PlaylistItem.position)
    )
    return list(dict.fromkeys(a for a in found if a is not None))


def _render_failed(session: Session, playlist: Playlist) -> bool:
    for item in playlist.items:
        if item.announcement_id is not None:
            newest = last_approved_revision(session, item.announcement_id)
            if newest is not None and newest.audio_status == "failed":
                return True
    return False


def playlist_status(session: Session, playlist: Playlist, playout: PlayoutMedia) -> str:
    """unapproved > failed > pending > ready (see ``PlaylistRead.status``)."""
    if unapproved_items(session, playlist.id):
        return "unapproved"
    if not playout.ready:
        return "failed" if _render_failed(session, playlist) else "pending"
    return "ready"


def playlists_using_announcement(session: Session, announcement_id: str) -> list[str]:
    """Ids of the playlists that contain the announcement (to re-issue their orders)."""
    return list(session.scalars(
        select(PlaylistItem.playlist_id).where(PlaylistItem.announcement_id == announcement_id)
        .distinct().order_by(PlaylistItem.playlist_id)
    ))


# ---------------------------------------------------------------- reading


def to_read(session: Session, playlist: Playlist) -> PlaylistRead:
    """The client view of a playlist, with its length and status."""
    playout = _playout(session, playlist)
    return PlaylistRead(
        id=playlist.id, name=playlist.name, area=playlist.area_code,
        items=[item.as_dict() for item in playlist.items],
        chime=playlist.chime,  # type: ignore[arg-type]
        gap_ms=playlist.gap_ms, duration_ms=playout.duration_ms,
        status=playlist_status(session, playlist, playout),  # type: ignore[arg-type]
        unapproved=unapproved_items(session, playlist.id),
        created_at=playlist.created_at, updated_at=playlist.updated_at,
    )


def get_playlist(*, session: Session, principal: Principal, playlist_id: str) -> Playlist:
    """The playlist if the principal's area covers it: 404 unknown, 403 outside."""
    playlist = session.get(Playlist, playlist_id)
    if playlist is None:
        raise NotFound(f"playlist {playlist_id!r} does not exist")
    area = session.get(Area, playlist.area_code)
    if not principal.covers(area.path if area else None):
        raise Forbidden(f"playlist {playlist_id!r} belongs to an area outside yours")
    return playlist


def list_playlists(*, session: Session, principal: Principal, area: str | None = None,
                   q: str | None = None) -> Select[Playlist]:
    """Playlists in the principal's area (or in ``area`` and its sub-areas), by name;
    ``q``: words in the name."""
    stmt = select(Playlist).join(Area, Area.code == Playlist.area_code)
    path = (get_area_in_scope(session=session, principal=principal, code=area).path
            if area is not None else principal.area_path)
    if path is not None:
        stmt = stmt.where(within(Area.path, path))
    if (words := matching(q, Playlist.name)) is not None:
        stmt = stmt.where(words)
    return stmt.order_by(Playlist.name, Playlist.id)


# ---------------------------------------------------------------- writing


def _check_item(session: Session, principal: Principal, index: int,
                item: PlaylistItemIn) -> PlaylistItem:
    if isinstance(item, AnnouncementItem):
        if session.get(Announcement, item.announcement) is None:
            raise InvalidInput(f"items[{index}]: announcement {item.announcement!r} does not exist",
                               fields=[{"field": f"items.{index}.announcement",
                                        "detail": "unknown announcement"}])
        get_announcement(session=session, principal=principal, announcement_id=item.announcement)
        return PlaylistItem(position=index, announcement_id=item.announcement)
    if isinstance(item, MediaItem):
        media = get_media(session, item.media)
        if media is None:
            raise InvalidInput(f"items[{index}]: no stored media has hash {item.media}",
                               fields=[{"field": f"items.{index}.media",
                                        "detail": "unknown media"}])
        return PlaylistItem(position=index, media_sha256=media.sha256)
    return PlaylistItem(position=index, silence_ms=item.silence_ms)


def _items(session: Session, principal: Principal,
           items: list[PlaylistItemIn]) -> list[PlaylistItem]:
    return [_check_item(session, principal, i, item) for i, item in enumerate(items)]


def _snapshot(playlist: Playlist) -> dict[str, object]:
    return {"name": playlist.name, "area": playlist.area_code, "chime": playlist.chime,
            "gap_ms": playlist.gap_ms, "items": [i.as_dict() for i in playlist.items]}


def _audit(session: Session, principal: Principal, action: str, playlist: Playlist,
           before: dict[str, object] | None, after: dict[str, object] | None) -> None:
    area = session.get(Area, playlist.area_code)
    record(session=session, actor=principal.actor, action=action, entity="playlist",
           entity_id=playlist.id, area_path=area.path if area else None,
           before=before, after=after)


def create_playlist(*, session: Session, principal: Principal, data: PlaylistCreate) -> Playlist:
    """A new playlist in an area the principal covers; every item must exist and be visible."""
    area = get_area_in_scope(session=session, principal=principal, code=data.area)
    playlist = Playlist(name=data.name, area_code=area.code, chime=data.chime,
                        gap_ms=data.gap_ms, created_by=principal.actor)
    playlist.items = _items(session, principal, data.items)
    session.add(playlist)
    session.flush()
    _audit(session, principal, "create", playlist, None, _snapshot(playlist))
    return playlist


def update_playlist(*, session: Session, principal: Principal, playlist_id: str,
                    data: PlaylistUpdate) -> Playlist:
    """Rename, reorder, re-frame; emits ``playlist.changed`` so schedules re-issue orders."""
    playlist = get_playlist(session=session, principal=principal, playlist_id=playlist_id)
    before = _snapshot(playlist)
    changes = data.model_dump(exclude_unset=True)
    if data.name is not None:
        playlist.name = data.name
    if "chime" in changes:
        playlist.chime = data.chime
    if data.gap_ms is not None:
        playlist.gap_ms = data.gap_ms
    if data.items is not None:
        new_items = _items(session, principal, data.items)
        playlist.items.clear()
        session.flush()  # the old rows go before new ones take their positions
        playlist.items.extend(new_items)
    playlist.updated_at = utcnow()
    session.flush()
    after = _snapshot(playlist)
    if after != before:
        _audit(session, principal, "update", playlist, before, after)
        emit(session, "playlist.changed", playlist_id=playlist.id)
    return playlist


def delete_playlist(*, session: Session, principal: Principal, playlist_id: str) -> None:
    """Delete a playlist no schedule uses (409 otherwise)."""
    playlist = get_playlist(session=session, principal=principal, playlist_id=playlist_id)
    for check in PLAYLIST_USAGE_CHECKS:
        reason = check(session, playlist)
        if reason:
            raise Conflict(f"playlist {playlist_id!r} is still used: {reason}")
    before = _snapshot(playlist)
    _audit(session, principal, "delete", playlist, before, None)
    session.delete(playlist)
    session.flush()


def playlists_in_area(session: Session, area: Area) -> str | None:
    """Why ``area`` is still in use by playlists (an area usage check), or None."""
    found = session.scalar(select(func.count()).select_from(Playlist)
                           .where(Playlist.area_code == area.code))
    return f"{found} playlist(s) belong to it" if found else None

