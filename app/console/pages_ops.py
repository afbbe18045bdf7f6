"""Console pages for operations: urgent broadcasts, speakers (map and list) and repair tickets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import case

from app.announcements import service as announcements
from app.areas.service import get_area_in_scope, villages_under
from app.broadcasts import service as broadcasts
from app.config import get_settings
from app.console.crew_tickets import back_online, ticket_speaker_context
from app.console.deps import ConsoleUser, local_time, render, require_page
from app.console.i18n import (
    BROADCAST_STATES,
    CAUSES,
    LEVELS,
    MODES,
    SPEAKER_STATES,
    TICKET_STATES,
    VILLAGE_STATES,
)
from app.console.listing import page_params, pager, search_words
from app.console.pages_content import area_choices
from app.db import DbSession, utcnow
from app.maintenance import service as maintenance
from app.maintenance.models import Ticket
from app.pagination import fetch_page
from app.speakers import service as speakers
from app.speakers.deps import FreshHeartbeats
from app.speakers.service import health_by_village

__all__ = ["router", "speaker_map_svg"]

router = APIRouter(prefix="/console", include_in_schema=False)

STATE_COLOURS = {"online": "#2e7d32", "offline": "#b3261e", "fault": "#b26a00",
                 "maintenance": "#6b7280"}


# ---------------------------------------------------------------- broadcasts


@router.get("/broadcasts")
def broadcast_list(request: Request, user: ConsoleUser, session: DbSession,
                   q: str | None = None, active: str | None = None) -> Any:
    """Urgent broadcasts inside the user's area, newest first, by words and state, 50 a page."""
    require_page(user, "broadcasts:read")
    params = page_params(request)
    stmt = broadcasts.list_broadcasts(principal=user, q=search_words(q),
                                      active={"yes": True, "no": False}.get(active or ""))
    rows, total = fetch_page(session, stmt, params)
    return render(request, "broadcasts.html", user, items=broadcasts.describe(session, rows),
                  levels=LEVELS, modes=MODES, states=BROADCAST_STATES, q=q, active=active,
                  pager=pager(request, total, params))


@router.get("/broadcasts/new")
def broadcast_new(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """The urgent broadcast form, with a confirmation step stating its reach."""
    require_page(user, "broadcasts:write")
    approved = [announcements.to_read(session, a) for a in session.scalars(
        announcements.list_announcements(session=session, principal=user, status="approved")
        .limit(500))]
    return render(request, "broadcast_new.html", user, areas=area_choices(session, user),
                  approved=approved, levels=LEVELS, modes=MODES)


@router.get("/reach")
def reach(user: ConsoleUser, session: DbSession,
          targets: Annotated[list[str], Query(max_length=64)],
          level: Annotated[int, Query(ge=1, le=4)] = 1) -> Response:
    """How many villages and speakers a set of target areas reaches, and when a broadcast of
    ``level`` sent now would start (III–IV wait out quiet hours), for the confirmation."""
    require_page(user, "broadcasts:write")
    areas = [get_area_in_scope(session=session, principal=user, code=c) for c in targets[:1000]]
    villages = villages_under(session, areas)
    health = health_by_village(session=session, village_codes=[v.code for v in villages])
    now = utcnow()
    start_at = broadcasts.start_time(level, now)
    return JSONResponse({
        "villages": len(villages),
        "speakers": sum(h.total for h in health.values()),
        "speakers_online": sum(h.online for h in health.values()),
        "deferred": start_at > now,
        "start_at": start_at.isoformat(),
        "start_local": local_time(start_at, "%H:%M"),
        "quiet_hours": get_settings().quiet_hours,
    })


@router.get("/broadcasts/{broadcast_id}")
def broadcast_detail(broadcast_id: str, request: Request, user: ConsoleUser,
                     session: DbSession) -> Any:
    """A broadcast's live per-village status (the page polls the API, no reload)."""
    require_page(user, "broadcasts:read")
    found = broadcasts.get_broadcast_in_scope(session=session, principal=user,
                                              broadcast_id=broadcast_id)
    return render(request, "broadcast_detail.html", user,
                  item=broadcasts.describe(session, [found])[0],
                  levels=LEVELS, modes=MODES, states=BROADCAST_STATES,
                  village_states=VILLAGE_STATES)


# ---------------------------------------------------------------- speakers


def speaker_map_svg(items: list[Any], width: int = 640, height: int = 420) -> str:
    """An SVG plot of speakers by position, coloured by state (drawn here: no map tiles)."""
    placed = [s for s in items if s.lat is not None and s.lon is not None]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-label="音柱分布图" style="width:100%;height:auto;background:#eef3f7;'
             f'border:1px solid #d9dee3;border-radius:8px">']
    if placed:
        lats = [s.lat for s in placed]
        lons = [s.lon for s in placed]
        pad = 30
        span_lat = max(max(lats) - min(lats), 1e-4)
        span_lon = max(max(lons) - min(lons), 1e-4)
        for s in placed:
            x = pad + (s.lon - min(lons)) / span_lon * (width - 2 * pad)
            y = height - pad - (s.lat - min(lats)) / span_lat * (height - 2 * pad)
            colour = STATE_COLOURS.get(s.status, "#1f5fa8")
            label = f"{s.name or s.serial} · {s.village} · {SPEAKER_STATES.get(s.status, s.status)}"
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="7" fill="{colour}" '
                         f'stroke="#fff" stroke-width="2" data-status="{s.status}">'
                         f'<title>{_escape(label)}</title></circle>')
    else:
        parts.append(f'<text x="{width // 2}" y="{height // 2}" text-anchor="middle" '
                     f'fill="#5c6670">没有登记位置的音柱</text>')
    legend_x = 10
    for state, colour in STATE_COLOURS.items():
        parts.append(f'<circle cx="{legend_x + 6}" cy="14" r="6" fill="{colour}"/>'
                     f'<text x="{legend_x + 16}" y="19" font-size="13" fill="#1d2329">'
                     f'{SPEAKER_STATES[state]}</text>')
        legend_x += 80
    parts.append("</svg>")
    return "".join(parts)


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


@router.get("/speakers", dependencies=[FreshHeartbeats])
def speaker_list(request: Request, user: ConsoleUser, session: DbSession,
                 town: str | None = None, status: str | None = None,
                 q: str | None = None) -> Any:
    """Speakers on a plot coloured by state (all that match) and in a list (50 a page),
    filterable by town, state and words (serial, name, location, village)."""
    require_page(user, "speakers:read")
    stmt = speakers.list_speakers(session=session, principal=user, town=town or None,
                                  status=status if status in SPEAKER_STATES else None,
                                  q=search_words(q))
    params = page_params(request)
    rows, total = fetch_page(session, stmt, params)
    plotted = speakers.speakers_read(session, session.scalars(stmt.limit(5000)))
    return render(request, "speakers.html", user, items=speakers.speakers_read(session, rows),
                  svg=speaker_map_svg(plotted), towns=area_choices(session, user, "town"),
                  town=town, status=status, q=q, states=SPEAKER_STATES,
                  pager=pager(request, total, params))


# ---------------------------------------------------------------- tickets

@router.get("/tickets", dependencies=[FreshHeartbeats])
def ticket_list(request: Request, user: ConsoleUser, session: DbSession,
                status: str | None = None, q: str | None = None, crew: str | None = None) -> Any:
    """Tickets by priority and due time, 50 a page (a crew member sees their crew's only);
    not yet closed unless a state is asked for; by words (village, speaker) and crew."""
    require_page(user, "tickets:read")
    stmt = maintenance.list_tickets(session=session, principal=user,
                                    status=status if status in TICKET_STATES else None,
                                    q=search_words(q), crew=crew or None)
    if status not in TICKET_STATES:
        stmt = stmt.where(Ticket.status != "closed")
    urgent_first = case((Ticket.priority == "high", 0), else_=1)
    stmt = stmt.order_by(None).order_by(urgent_first, Ticket.due_at, Ticket.id)
    params = page_params(request)
    rows, total = fetch_page(session, stmt, params)
    items = maintenance.tickets_read(session, rows)
    return render(request, "tickets.html", user, items=items,
                  states=TICKET_STATES, causes=CAUSES, status=status, q=q,
                  pager=pager(request, total, params), back_online=back_online(session, items))


@router.get("/tickets/{ticket_id}")
def ticket_detail(ticket_id: str, request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """One ticket with its timeline and the crew's actions: claim, resolve, comment."""
    require_page(user, "tickets:read")
    ticket = maintenance.get_ticket_in_scope(session=session, principal=user, ticket_id=ticket_id)
    item = maintenance.ticket_read(session, ticket)
    return render(request, "ticket_detail.html", user, item=item, states=TICKET_STATES,
                  causes=CAUSES,
                  **ticket_speaker_context(session=session, principal=user, ticket=item))
