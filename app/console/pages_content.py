"""Console pages for content: announcements, playlists, schedules and the village week calendar."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from app.announcements import service as announcements
from app.announcements.models import Announcement, Revision
from app.areas.models import Area
from app.areas.service import get_area_in_scope, list_areas
from app.auth.permissions import Principal
from app.config import get_settings
from app.console.deps import ConsoleUser, render, require_page
from app.console.i18n import ANNOUNCEMENT_STATES, DAYS, PLAYLIST_STATES
from app.console.listing import page_params, pager, search_words
from app.console.weekgrid import week_grid
from app.db import DbSession, utcnow
from app.pagination import fetch_page
from app.playlists import service as playlists
from app.schedules import service as schedules
from app.schedules.calendar import village_calendar

__all__ = ["router", "area_choices"]

router = APIRouter(prefix="/console", include_in_schema=False)

STATUS_LABELS = {**PLAYLIST_STATES, **ANNOUNCEMENT_STATES, "pending": "生成中", "failed": "失败"}
DAY_LABELS = DAYS


def area_choices(session: Any, principal: Principal, level: str | None = None) -> list[Area]:
    """Areas the user may pick in a form (inside their own area)."""
    return list(session.scalars(list_areas(principal=principal, level=level).limit(2000)))


@router.get("/announcements")
def announcement_list(request: Request, user: ConsoleUser, session: DbSession,
                      status: str | None = None, q: str | None = None) -> Any:
    """Announcements inside the user's area, newest first, by status and words, 50 a page."""
    require_page(user, "content:read")
    status = status if status in ANNOUNCEMENT_STATES else None
    stmt = announcements.list_announcements(session=session, principal=user, status=status,
                                            q=search_words(q))
    params = page_params(request)
    rows, total = fetch_page(session, stmt, params)
    items = [announcements.to_read(session, a) for a in rows]
    return render(request, "announcements.html", user, items=items, total=total,
                  status=status, q=q, pager=pager(request, total, params), labels=STATUS_LABELS)


@router.get("/announcements/new")
def announcement_new(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """The form to write a new script."""
    require_page(user, "content:write")
    request.state.principal = user
    return render(request, "announcement_edit.html", user, item=None,
                  areas=area_choices(session, user))


@router.get("/announcements/{announcement_id}")
def announcement_detail(announcement_id: str, request: Request, user: ConsoleUser,
                        session: DbSession) -> Any:
    """One announcement: its audio, review actions, edit form and revision history."""
    require_page(user, "content:read")
    found = announcements.get_announcement(session=session, principal=user,
                                           announcement_id=announcement_id)
    stmt = announcements.list_revisions(session=session, principal=user,
                                        announcement_id=announcement_id)
    revisions = [announcements.revision_read(session, r) for r in session.scalars(stmt)]
    return render(request, "announcement_detail.html", user,
                  item=announcements.to_read(session, found), revisions=revisions,
                  labels=STATUS_LABELS)


@router.get("/playlists")
def playlist_list(request: Request, user: ConsoleUser, session: DbSession,
                  q: str | None = None) -> Any:
    """Playlists inside the user's area, by name and words, 50 a page."""
    require_page(user, "schedules:read")
    params = page_params(request)
    stmt = playlists.list_playlists(session=session, principal=user, q=search_words(q))
    rows, total = fetch_page(session, stmt, params)
    return render(request, "playlists.html", user,
                  items=[playlists.to_read(session, p) for p in rows], total=total, q=q,
                  pager=pager(request, total, params), titles=_item_titles(session, rows),
                  labels=STATUS_LABELS)


def _item_titles(session: Any, rows: list[Any]) -> dict[str, str]:
    """Current titles of the announcements the playlists hold."""
    ids = {i.announcement_id for p in rows for i in p.items if i.announcement_id}
    if not ids:
        return {}
    found = session.execute(
        select(Announcement.id, Revision.title)
        .join(Revision, (Revision.announcement_id == Announcement.id)
              & (Revision.number == Announcement.current_revision))
        .where(Announcement.id.in_(ids))).all()
    return dict(found)


@router.get("/schedules")
def schedule_list(request: Request, user: ConsoleUser, session: DbSession,
                  q: str | None = None, enabled: str | None = None) -> Any:
    """Schedules playing inside the user's area, by name, words and state, 50 a page."""
    require_page(user, "schedules:read")
    state = {"yes": True, "no": False}.get(enabled or "")
    params = page_params(request)
    stmt = schedules.list_schedules(session=session, principal=user, q=search_words(q),
                                    enabled=state)
    rows, total = fetch_page(session, stmt, params)
    now = utcnow()
    return render(request, "schedules.html", user,
                  items=[schedules.to_read(session, s, now) for s in rows], total=total, q=q,
                  enabled=enabled, pager=pager(request, total, params), days=DAY_LABELS,
                  villages=area_choices(session, user, "village"))


def _week_start(value: str | None) -> datetime:
    tz = get_settings().tz
    today = utcnow().astimezone(tz).date()
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date() if value else today
    except ValueError:
        day = today
    monday = day - timedelta(days=day.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=tz)


@router.get("/villages/{code}/calendar")
def village_week(code: str, request: Request, user: ConsoleUser, session: DbSession,
                 week: str | None = None) -> Any:
    """A week calendar of one village: routine and urgent orders, as the playout rule plays them."""
    require_page(user, "schedules:read")
    request.state.principal = user
    village = get_area_in_scope(session=session, principal=user, code=code)
    start = _week_start(week)
    calendar = village_calendar(session=session, village=village, start=start,
                                end=start + timedelta(days=7), now=utcnow())
    tz = get_settings().tz
    days: list[dict[str, Any]] = []
    for offset in range(7):
        day = (start + timedelta(days=offset)).date()
        entries = [e for e in calendar.items if e.start_at.astimezone(tz).date() == day]
        days.append({"date": day, "label": list(DAY_LABELS.values())[offset], "entries": entries})
    grid = week_grid([(d["date"], d["entries"]) for d in days], utcnow(), tz)
    return render(request, "calendar.html", user, village=village, days=days, grid=grid,
                  prev=(start - timedelta(days=7)).date().isoformat(),
                  next=(start + timedelta(days=7)).date().isoformat(),
                  villages=[a for a in area_choices(session, user, "village")])


def villages_named(session: Any, codes: list[str]) -> dict[str, str]:
    """Village names by code, for labels."""
    return dict(session.execute(select(Area.code, Area.name).where(Area.code.in_(codes))).all())
