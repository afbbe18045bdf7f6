"""Console pages for operations: urgent broadcasts, speakers (map and list) and repair tickets."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from app.announcements import service as announcements
from app.areas.service import get_area_in_scope, villages_under
from app.broadcasts import service as broadcasts
from app.config import get_settings
from app.console.deps import ConsoleUser, local_time, render, require_page
from app.console.pages_content import area_choices
from app.db import DbSession, utcnow
from app.maintenance import service as maintenance
from app.speakers import service as speakers
from app.speakers.service import health_by_village

__all__ = ["router", "speaker_map_svg"]

router = APIRouter(prefix="/console", include_in_schema=False)

LEVELS = {1: "Ⅰ级（特别重大）", 2: "Ⅱ级（重大）", 3: "Ⅲ级（较大）", 4: "Ⅳ级（一般）"}
MODES = {"actual": "正式", "exercise": "演练", "test": "测试（不外放）"}
BROADCAST_STATES = {"active": "进行中", "finished": "已结束", "cancelled": "已取消",
                    "expired": "已过期"}
VILLAGE_STATES = {"pending": "待下发", "delivered": "已送达", "playing": "播放中",
                  "played": "已播放", "failed": "失败", "unreachable": "无法送达"}
SPEAKER_STATES = {"online": "在线", "offline": "离线", "fault": "故障", "maintenance": "维护中"}
TICKET_STATES = {"open": "待处理", "claimed": "处理中", "resolved": "已修复待确认",
                 "closed": "已关闭"}
CAUSES = {"power_cut": "断电（含人为断电）", "hardware": "硬件故障", "amplifier": "功放故障",
          "network": "网络故障", "vandalism": "人为破坏", "offline": "离线", "other": "其他"}
STATE_COLOURS = {"online": "#2e7d32", "offline": "#b3261e", "fault": "#b26a00",
                 "maintenance": "#6b7280"}


# ---------------------------------------------------------------- broadcasts


@router.get("/broadcasts")
def broadcast_list(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """Urgent broadcasts inside the user's area, newest first."""
    require_page(user, "broadcasts:read")
    request.state.principal = user
    rows = list(session.scalars(broadcasts.list_broadcasts(principal=user).limit(100)))
    return render(request, "broadcasts.html", user, items=broadcasts.describe(session, rows),
                  levels=LEVELS, modes=MODES, states=BROADCAST_STATES)


@router.get("/broadcasts/new")
def broadcast_new(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """The urgent broadcast form, with a confirmation step stating its reach."""
    require_page(user, "broadcasts:write")
    request.state.principal = user
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
    request.state.principal = user
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


@router.get("/speakers")
def speaker_list(request: Request, user: ConsoleUser, session: DbSession,
                 town: str | None = None, status: str | None = None) -> Any:
    """Speakers on a plot coloured by state and in a list, filterable by town and state."""
    require_page(user, "speakers:read")
    request.state.principal = user
    stmt = speakers.list_speakers(session=session, principal=user, town=town or None,
                                  status=status if status in SPEAKER_STATES else None)
    items = speakers.speakers_read(session, session.scalars(stmt.limit(5000)))
    return render(request, "speakers.html", user, items=items, svg=speaker_map_svg(items),
                  towns=area_choices(session, user, "town"), town=town, status=status,
                  states=SPEAKER_STATES)


# ---------------------------------------------------------------- tickets

_PRIORITY_ORDER = {"high": 0, "normal": 1}


@router.get("/tickets")
def ticket_list(request: Request, user: ConsoleUser, session: DbSession,
                status: str | None = None) -> Any:
    """Open tickets sorted by priority and due time (a crew member sees their crew's only)."""
    require_page(user, "tickets:read")
    request.state.principal = user
    wanted = [status] if status in TICKET_STATES else ["open", "claimed", "resolved"]
    rows = []
    for state in wanted:
        rows += list(session.scalars(maintenance.list_tickets(session=session, principal=user,
                                                              status=state).limit(500)))
    items = sorted(maintenance.tickets_read(session, rows),
                   key=lambda t: (_PRIORITY_ORDER.get(t.priority, 2), t.due_at))
    return render(request, "tickets.html", user, items=items, states=TICKET_STATES,
                  causes=CAUSES, status=status)


@router.get("/tickets/{ticket_id}")
def ticket_detail(ticket_id: str, request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """One ticket with its timeline and the crew's actions: claim, resolve, comment."""
    require_page(user, "tickets:read")
    request.state.principal = user
    ticket = maintenance.get_ticket_in_scope(session=session, principal=user, ticket_id=ticket_id)
    return render(request, "ticket_detail.html", user,
                  item=maintenance.ticket_read(session, ticket),
                  states=TICKET_STATES, causes=CAUSES)
