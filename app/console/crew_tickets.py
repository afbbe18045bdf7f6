"""What a repair crew needs on a ticket: which speaker, where it is, how it is now, its past.

The ticket itself holds codes and ids; this gathers the speaker's name, village and town
names, its position as links a phone's map app opens, its latest heartbeat and power, and
its earlier outages and tickets, so the crew can find it and see whether it came back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.auth.permissions import Principal
from app.db import utcnow
from app.maintenance import service as maintenance
from app.maintenance.models import Outage, Ticket
from app.maintenance.schemas import TicketRead
from app.speakers.models import Speaker
from app.speakers.service import speaker_read

__all__ = ["MapLinks", "map_links", "ticket_speaker_context", "back_online"]

HISTORY = 10
IN_PROGRESS = ("open", "claimed")


@dataclass(frozen=True)
class MapLinks:
    """Ways to open a position on a phone."""

    geo: str  # RFC 5870: Android offers every map app installed
    amap: str  # 高德地图 (app or web); it converts from GPS (WGS-84) coordinates itself
    text: str  # the coordinates to read out or copy


def map_links(lat: float, lon: float, label: str) -> MapLinks:
    """Links that open ``label`` at (lat, lon) in a map app."""
    position = f"{lat:.6f},{lon:.6f}"
    amap = "https://uri.amap.com/marker?" + urlencode(
        {"position": f"{lon:.6f},{lat:.6f}", "name": label, "coordinate": "wgs84",
         "callnative": 1})
    return MapLinks(geo=f"geo:{position}?q={position}({quote(label)})", amap=amap,
                    text=f"北纬 {lat:.5f}°，东经 {lon:.5f}°" if lat >= 0 and lon >= 0
                    else position)


def _names(session: Session, codes: list[str]) -> dict[str, str]:
    return dict(session.execute(select(Area.code, Area.name)  # type: ignore[arg-type]
                                .where(Area.code.in_([c for c in codes if c]))).all())


def ticket_speaker_context(*, session: Session, principal: Principal,
                           ticket: TicketRead) -> dict[str, Any]:
    """The speaker behind a ticket, where to find it, its state now and its history."""
    row = session.get(Speaker, ticket.speaker)
    if row is None:  # deleted with its tickets: nothing more to say
        return {"speaker": None}
    speaker = speaker_read(row, ticket.town, utcnow())
    names = _names(session, [ticket.village, ticket.town or ""])
    label = f"{names.get(ticket.village, ticket.village)} {speaker.name or speaker.serial}"
    outages = session.scalars(
        maintenance.list_outages(session=session, principal=principal, speaker=row.id)
        .limit(HISTORY)).all()
    earlier = session.scalars(
        select(Ticket).where(Ticket.speaker_id == row.id, Ticket.id != ticket.id)
        .order_by(Ticket.opened_at.desc()).limit(HISTORY)).all()
    return {
        "speaker": speaker,
        "retired": row.retired_at is not None,
        "location": getattr(row, "location", None),  # the place in words, where recorded
        "village_name": names.get(ticket.village, ticket.village),
        "town_name": names.get(ticket.town or "", ticket.town),
        "links": map_links(speaker.lat, speaker.lon, label)
        if speaker.lat is not None and speaker.lon is not None else None,
        "back_online": ticket.id in back_online(session, [ticket]),
        "outages": [_outage_row(o) for o in outages],
        "earlier": earlier,
    }


def _outage_row(outage: Outage) -> dict[str, Any]:
    end = outage.closed_at or utcnow()
    return {"cause": outage.cause, "opened_at": outage.opened_at, "closed_at": outage.closed_at,
            "hours": (end - outage.opened_at).total_seconds() / 3600,
            "source": outage.source}


def back_online(session: Session, tickets: list[TicketRead],
                now: datetime | None = None) -> set[str]:
    """Ids of the tickets in progress whose speaker is heard online again.

    Only when none of the ticket's outages is still open: a speaker whose amplifier was
    reported broken beats as usual, and is not "back" until the repair is proven.
    """
    waiting = {t.speaker: t.id for t in tickets if t.status in IN_PROGRESS}
    if not waiting:
        return set()
    now = now or utcnow()
    still_down = set(session.scalars(select(Outage.ticket_id).where(
        Outage.ticket_id.in_(list(waiting.values())), Outage.closed_at.is_(None))))
    rows = session.scalars(select(Speaker).where(Speaker.id.in_(list(waiting)))).all()
    return {waiting[s.id] for s in rows
            if waiting[s.id] not in still_down and speaker_read(s, None, now).status == "online"}
