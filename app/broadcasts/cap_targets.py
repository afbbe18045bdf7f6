"""Which villages a CAP alert reaches: its AreaCode geocodes, other geocodes, and its shapes.

- ``AreaCode`` geocodes are this service's own scheme: an unknown one is 422, one outside
  the caller's area 403 (SPEC §8).
- Any other geocode (SAME, UGC, a profile's location code, GB/T 2260 …) whose value is an
  area's code targets that area, so a site can name its areas as its alerting source
  does. Values of other schemes that name no area here are ignored; a value holding
  several codes separated by spaces counts each; a 12-digit GB/T 2260 code padded with
  zeros (``130132000000``) also matches its 9- and 6-digit forms (``130132``). Only areas
  inside the caller's area count, as with shapes.
- ``CPEAS Geographic Code`` geocodes (China's CAP profile) also match villages whose
  official division code (``division_code``) they are a prefix of.
- Polygons and circles reach the villages with a positioned speaker inside them; they are
  matched before any write (``locate_cap``), against every speaker at once.

A valid alert that reaches no village is 422 ``no_villages`` with the reason: it names its
area only in words, or nothing it names is here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.areas.divisions import villages_in_divisions
from app.areas.models import Area
from app.areas.service import villages_under
from app.auth.permissions import Principal
from app.broadcasts import service
from app.broadcasts.cap import CapAlert
from app.broadcasts.shapes import AlertArea, FloatArray
from app.errors import Forbidden, InvalidInput
from app.speakers.models import Speaker

__all__ = [
    "SpeakerPositions",
    "LocatedCap",
    "CapTargets",
    "speaker_positions",
    "villages_in_shapes",
    "locate",
    "resolve_targets",
    "geocode_candidates",
]

_CHUNK = 500


@dataclass(frozen=True)
class SpeakerPositions:
    """Where the positioned speakers are, as columns: one village code, latitude, longitude each."""

    villages: list[str]
    lats: FloatArray
    lons: FloatArray


@dataclass(frozen=True)
class LocatedCap:
    """A checked alert and the villages with a speaker inside its shapes (None: it has none)."""

    alert: CapAlert
    shape_villages: frozenset[str] | None


@dataclass(frozen=True)
class CapTargets:
    """Where a CAP alert is broadcast: target codes, village codes, the common area path."""

    targets: list[str]
    villages: list[str]
    area_path: str


def speaker_positions(session: Session) -> SpeakerPositions:
    """Every working speaker with a position (one column query, no objects)."""
    rows = session.execute(
        select(Speaker.village_code, Speaker.lat, Speaker.lon).where(
            Speaker.retired_at.is_(None), Speaker.lat.is_not(None), Speaker.lon.is_not(None)
        )
    ).all()
    return SpeakerPositions(
        villages=[row[0] for row in rows],
        lats=np.fromiter((row[1] for row in rows), dtype=np.float64, count=len(rows)),
        lons=np.fromiter((row[2] for row in rows), dtype=np.float64, count=len(rows)),
    )


def villages_in_shapes(alert: CapAlert, positions: SpeakerPositions) -> frozenset[str]:
    """Villages with at least one speaker inside the alert's polygons or circles."""
    inside = AlertArea(alert.polygons, alert.circles).covers(positions.lats, positions.lons)
    return frozenset(positions.villages[index] for index in np.flatnonzero(inside))


def locate(alert: CapAlert, positions: Callable[[], SpeakerPositions]) -> LocatedCap:
    """Match the shapes of an alert that will be broadcast (``positions`` is read only then)."""
    acts = alert.broadcast and alert.msg_type in ("Alert", "Update") and alert.level is not None
    if not (acts and alert.has_geometry):
        return LocatedCap(alert, None)
    return LocatedCap(alert, villages_in_shapes(alert, positions()))


def geocode_candidates(value: str) -> list[str]:
    """The area codes a geocode value may name (several codes; GB/T 2260 zero padding)."""
    found: list[str] = []
    for code in value.split():
        found.append(code)
        if len(code) == 12 and code.isdigit():
            found += [code[:9]] if code.endswith("000") else []
            found += [code[:6]] if code.endswith("000000") else []
    return list(dict.fromkeys(found))


def resolve_targets(*, session: Session, principal: Principal, located: LocatedCap) -> CapTargets:
    """The villages the alert reaches; 422 (unknown AreaCode, no village) or 403 (outside)."""
    alert = located.alert
    if not alert.has_target:
        raise InvalidInput(_words_only(alert), code="no_villages")
    by_code = _area_codes(session, principal, alert.area_codes)
    by_geocode = _geocoded(session, principal, alert.geocodes)
    named = {**by_code, **{c: a for c, a in by_geocode.items() if c not in by_code}}
    villages = {v.code: v for v in villages_under(session, named.values())}
    for village in _in_scope(session, principal, located.shape_villages or ()):
        villages.setdefault(village.code, village)
    # Official division codes (CMA, 12379 platforms) match villages' 区划代码 by prefix.
    for village in villages_in_divisions(session, alert.division_codes, principal.area_path):
        villages.setdefault(village.code, village)
    if not villages:
        raise InvalidInput(_nothing_here(alert, principal), code="no_villages")
    targets = [*named, *(code for code in sorted(villages) if code not in named)]
    paths = [area.path for area in named.values()] + [v.path for v in villages.values()]
    return CapTargets(targets, sorted(villages), service.common_path(paths))


def _area_codes(session: Session, principal: Principal, codes: list[str]) -> dict[str, Area]:
    """The areas of ``AreaCode`` geocodes: every one must exist and lie in the caller's area."""
    areas = {a.code: a for a in _areas(session, codes)}
    unknown = [c for c in codes if c not in areas]
    if unknown:
        raise InvalidInput(
            f"unknown AreaCode value(s): {', '.join(unknown[:20])}",
            code="unknown_area",
            areas=unknown,
        )
    outside = [c for c in codes if not principal.covers(areas[c].path)]
    if outside:
        raise Forbidden(f"outside your area: {', '.join(outside[:20])}", areas=outside)
    return {code: areas[code] for code in codes}


def _geocoded(
    session: Session, principal: Principal, geocodes: Sequence[tuple[str, str]]
) -> dict[str, Area]:
    """Areas (in the caller's area) whose code a geocode of another scheme names."""
    wanted = [code for _, value in geocodes for code in geocode_candidates(value)]
    found = {a.code: a for a in _areas(session, wanted) if principal.covers(a.path)}
    return {code: found[code] for code in dict.fromkeys(wanted) if code in found}


def _areas(session: Session, codes: Iterable[str]) -> list[Area]:
    """The areas with these codes (queried in chunks: an alert may carry hundreds)."""
    wanted, found = sorted(set(codes)), list[Area]()
    for start in range(0, len(wanted), _CHUNK):
        found += session.scalars(select(Area).where(Area.code.in_(wanted[start : start + _CHUNK])))
    return found


def _in_scope(session: Session, principal: Principal, codes: Iterable[str]) -> list[Area]:
    """The villages among ``codes`` that lie inside the caller's area."""
    return [village for village in _areas(session, codes) if principal.covers(village.path)]


def _described(alert: CapAlert) -> str:
    names = [" ".join(d.split()) for d in alert.area_descs[:3]]
    more = f" and {len(alert.area_descs) - 3} more" if len(alert.area_descs) > 3 else ""
    return "; ".join(repr(n[:80]) for n in names) + more


def _words_only(alert: CapAlert) -> str:
    where = f" ({_described(alert)})" if alert.area_descs else ""
    return (
        f"the alert names its area only in words{where}: with no geocode, polygon or circle "
        "there is no village to match it to. Choose the villages and send the broadcast "
        "as JSON (POST /api/v1/broadcasts)"
    )


def _nothing_here(alert: CapAlert, principal: Principal) -> str:
    reasons = []
    if alert.area_codes:
        reasons.append(f"its AreaCode area(s) {', '.join(alert.area_codes[:5])} hold no village")
    if alert.geocodes:
        shown = ", ".join(f"{n} {' '.join(v.split())[:20]}" for n, v in alert.geocodes[:5])
        more = f" and {len(alert.geocodes) - 5} more" if len(alert.geocodes) > 5 else ""
        reasons.append(f"its geocode(s) {shown}{more} name no area here")
    if alert.has_geometry:
        scope = " in your area" if principal.area_path else ""
        reasons.append(
            f"no positioned speaker{scope} lies in its {len(alert.polygons)} polygon(s) "
            f"and {len(alert.circles)} circle(s)"
        )
    return (
        f"no village with a loudspeaker lies in the alert's area ({_described(alert)}): "
        + "; ".join(reasons)
    )
