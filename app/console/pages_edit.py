"""Console editors: a playlist (items in order, gaps, listening) and a schedule (when and where).

The pages only gather what the forms need; saving goes through the API (``POST``/``PATCH``
/``DELETE /api/v1/playlists|schedules``) from the page's script, with the user's permissions.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from app.announcements import service as announcements
from app.auth.permissions import Principal
from app.console.deps import ConsoleUser, render, require_page
from app.console.i18n import DAYS
from app.console.pages_content import area_choices
from app.db import DbSession
from app.media.models import MediaFile
from app.media.service import media_url
from app.playlists import service as playlists
from app.schedules import service as schedules
from app.schedules.models import Schedule

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)

MAX_CHOICES = 500


def _approved_choice(session: Session, announcement: Any) -> dict[str, Any]:
    """An announcement as the picker lists it: title, area and its playing audio."""
    revision = announcements.last_approved_revision(session, announcement.id)
    media = (session.get(MediaFile, revision.audio_sha256)
             if revision is not None and revision.audio_sha256 else None)
    return {"id": announcement.id, "title": revision.title if revision else "",
            "area": announcement.area_code, "approved": revision is not None,
            "url": media_url(media.sha256) if media else None,
            "duration_ms": media.duration_ms if media else None}


def _choices(session: Session, principal: Principal) -> list[dict[str, Any]]:
    stmt = announcements.list_announcements(session=session, principal=principal,
                                            status="approved").limit(MAX_CHOICES)
    return [_approved_choice(session, a) for a in session.scalars(stmt)]


def _item_rows(session: Session, principal: Principal, items: list[Any]) -> list[dict[str, Any]]:
    """The playlist's items as the editor shows them (with what each one plays)."""
    rows = []
    for item in items:
        if item.get("announcement"):
            found = announcements.get_announcement(session=session, principal=principal,
                                                   announcement_id=str(item["announcement"]))
            rows.append({"kind": "announcement", **_approved_choice(session, found),
                         "title": announcements.current_revision(session, found).title})
        elif item.get("media"):
            media = session.get(MediaFile, str(item["media"]))
            rows.append({"kind": "media", "id": item["media"], "title": "音频文件",
                         "url": media_url(str(item["media"])) if media else None,
                         "duration_ms": media.duration_ms if media else None})
        else:
            rows.append({"kind": "silence", "silence_ms": item["silence_ms"]})
    return rows


@router.get("/playlists/new")
def playlist_new(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """The playlist editor, empty."""
    require_page(user, "schedules:write")
    return render(request, "playlist_edit.html", user, item=None, rows=[],
                  choices=_choices(session, user), areas=area_choices(session, user))


@router.get("/playlists/{playlist_id}")
def playlist_edit(playlist_id: str, request: Request, user: ConsoleUser,
                  session: DbSession) -> Any:
    """One playlist: its items to reorder, listen to, add or remove; gap, chime, name."""
    require_page(user, "schedules:read")
    found = playlists.get_playlist(session=session, principal=user, playlist_id=playlist_id)
    item = playlists.to_read(session, found)
    using = session.scalars(schedules.list_schedules(session=session, principal=user)
                            .where(Schedule.playlist_id == found.id).limit(50))
    return render(request, "playlist_edit.html", user, item=item,
                  rows=_item_rows(session, user, item.items), choices=_choices(session, user),
                  areas=area_choices(session, user), used_by=list(using))


def _schedule_form(session: Session, principal: Principal) -> dict[str, Any]:
    lists = [playlists.to_read(session, p) for p in session.scalars(
        playlists.list_playlists(session=session, principal=principal).limit(MAX_CHOICES))]
    return {"playlists": lists, "areas": area_choices(session, principal), "days": DAYS}


@router.get("/schedules/new")
def schedule_new(request: Request, user: ConsoleUser, session: DbSession,
                 playlist: str | None = None) -> Any:
    """The schedule editor, empty (the playlist preselected when given)."""
    require_page(user, "schedules:write")
    return render(request, "schedule_edit.html", user, item=None, preselect=playlist,
                  **_schedule_form(session, user))


@router.get("/schedules/{schedule_id}")
def schedule_edit(schedule_id: str, request: Request, user: ConsoleUser,
                  session: DbSession) -> Any:
    """One schedule to change, enable or disable, or delete."""
    require_page(user, "schedules:write")
    found = schedules.get_schedule_for_reading(session=session, principal=user,
                                               schedule_id=schedule_id)
    return render(request, "schedule_edit.html", user, item=schedules.to_read(session, found),
                  preselect=None, **_schedule_form(session, user))
