"""The status map page: villages and speakers where they are, coloured by state, per town."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.auth.permissions import Principal
from app.console.deps import ConsoleUser, render, require_page
from app.console.i18n import SPEAKER_STATES
from app.console.pages_content import area_choices
from app.console.statusmap import (
    SPEAKER_COLOURS,
    VILLAGE_COLOURS,
    VILLAGE_STATES,
    MapSpeaker,
    MapTown,
    MapVillage,
    status_map,
)
from app.db import DbSession
from app.speakers import service as speakers
from app.speakers.schemas import SpeakerRead

__all__ = ["router", "map_layers"]

router = APIRouter(prefix="/console", include_in_schema=False)


def _villages(session: Session, user: Principal, town: Area | None) -> list[Area]:
    found = area_choices(session, user, "village")
    return [v for v in found if town is None or v.parent_code == town.code]


def map_layers(items: list[SpeakerRead], villages: list[Area], towns: list[Area]
               ) -> tuple[list[MapSpeaker], list[MapVillage], list[MapTown]]:
    """Speakers with positions, villages with their counts, towns with theirs."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in items:
        counts[s.village][0] += s.status == "online"
        counts[s.village][1] += 1
    placed = [MapSpeaker(id=s.id, label=f"{s.name or s.serial} · {SPEAKER_STATES[s.status]}",
                         village=s.village, lat=s.lat, lon=s.lon, status=s.status)
              for s in items if s.lat is not None and s.lon is not None]
    map_villages = [MapVillage(code=v.code, name=v.name, town=v.parent_code or "",
                               online=counts[v.code][0], total=counts[v.code][1])
                    for v in villages]
    map_towns = []
    for t in towns:
        theirs = [v for v in map_villages if v.town == t.code]
        map_towns.append(MapTown(code=t.code, name=t.name,
                                 speakers=sum(v.total for v in theirs),
                                 online=sum(v.online for v in theirs)))
    return placed, map_villages, [t for t in map_towns if any(
        v.town == t.code for v in map_villages)]


@router.get("/map")
def status_map_view(request: Request, user: ConsoleUser, session: DbSession,
                    town: str | None = None) -> Any:
    """The map of the user's area (or one town), with the towns' and villages' lists."""
    require_page(user, "speakers:read")
    request.state.principal = user
    towns = area_choices(session, user, "town")
    chosen = next((t for t in towns if t.code == town), None)
    stmt = speakers.list_speakers(session=session, principal=user,
                                  town=chosen.code if chosen else None)
    items = speakers.speakers_read(session, session.scalars(stmt.limit(5000)))
    placed, villages, map_towns = map_layers(items, _villages(session, user, chosen),
                                             [chosen] if chosen else towns)
    unplaced = [s for s in items if s.lat is None or s.lon is None]
    return render(request, "map.html", user, svg=status_map(placed, villages, map_towns),
                  towns=towns, town=chosen, map_towns=map_towns, villages=villages,
                  unplaced=unplaced, speaker_states=SPEAKER_STATES,
                  speaker_colours=SPEAKER_COLOURS, village_states=VILLAGE_STATES,
                  village_colours=VILLAGE_COLOURS,
                  town_names={t.code: t.name for t in towns})
