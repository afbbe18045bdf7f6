"""Reports over time: coverage per town per hour or day, repair times and outages by cause.

Coverage history is derived from outage intervals (see :mod:`app.maintenance.timeline`), so
it covers the past as far back as outages are kept, at any resolution, with nothing recorded
periodically. Speakers count in the town of their current village; maintenance periods are
not kept, so a speaker in maintenance counts by its outages alone.
"""

from __future__ import annotations

import bisect
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.areas.service import get_area
from app.auth.permissions import Principal
from app.auth.scope import within
from app.config import get_settings
from app.csvout import csv_text
from app.db import utcnow
from app.errors import Forbidden, InvalidInput
from app.maintenance.causes import CAUSES
from app.maintenance.models import DETECTED, Outage, Ticket
from app.maintenance.reports import _towns_in_scope
from app.maintenance.schemas import CoveragePeriod
from app.maintenance.timeline import (
    Interval,
    SpeakerLife,
    Step,
    merge,
    online_periods,
    period_edges,
    seconds_in_periods,
)
from app.speakers.models import Speaker, SpeakerHeartbeat

__all__ = [
    "MAX_PERIODS",
    "DEFAULT_SPAN",
    "RepairPeriod",
    "history_window",
    "coverage_history",
    "coverage_history_csv",
    "repair_times",
    "outages_by_cause",
]

MAX_PERIODS = 1000
DEFAULT_SPAN: dict[str, timedelta] = {"day": timedelta(days=30), "hour": timedelta(hours=48)}
CSV_COLUMNS = ["town", "name", "from", "to", "villages", "villages_silent", "silent_rate",
               "speakers", "speakers_online", "online_rate"]


def history_window(start: datetime | None, end: datetime | None, step: Step,
                   now: datetime) -> list[datetime]:
    """Period edges for ``[start, end)`` (defaults: the last 30 days or 48 hours until now).

    The first period begins at the local hour or day holding ``start``; the last ends at
    ``end`` or now, whichever is earlier. 422 for an empty or too long window.
    """
    end = min(end or now, now)
    start = start or end - DEFAULT_SPAN[step]
    if end <= start:
        raise InvalidInput("'to' must be after 'from' (and 'from' in the past)")
    span = (end - start) / (timedelta(days=1) if step == "day" else timedelta(hours=1))
    if span > MAX_PERIODS:
        raise InvalidInput(f"at most {MAX_PERIODS} periods at a time: shorten the range"
                           + (" or use step=day" if step == "hour" else ""))
    edges = period_edges(start, end, step, get_settings().tz)
    edges[-1] = end.astimezone(UTC)  # the period holding ``end`` stops there (now: so far)
    return edges


# ---------------------------------------------------------------- coverage history


def _towns(session: Session, principal: Principal, town: str | None) -> list[Area]:
    towns = _towns_in_scope(session, principal)
    if town is None:
        return towns
    area = get_area(session=session, code=town)  # 404 when unknown
    if area.level != "town":
        raise InvalidInput(f"{town!r} is a {area.level}, not a town", field="town")
    if area.code not in {t.code for t in towns}:
        raise Forbidden(f"area {town!r} is outside your area")
    return [area]


def _in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    return [] if principal.area_path is None else [within(Area.path, principal.area_path)]


def _villages(session: Session, principal: Principal,
              towns: Sequence[Area]) -> list[tuple[str, str, datetime]]:
    """(village, town, created_at) of the villages of ``towns`` inside the principal's area."""
    return [(code, str(town), created) for code, town, created in session.execute(
        select(Area.code, Area.parent_code, Area.created_at)
        .where(Area.level == "village", Area.parent_code.in_([t.code for t in towns]),
               *_in_scope(principal)))]


def _speakers(principal: Principal, towns: Sequence[Area], start: datetime,
              end: datetime) -> Select[Any]:
    """Speakers of the towns' villages registered at some time in ``[start, end)``."""
    return (select(Speaker.id).join(Area, Area.code == Speaker.village_code)
            .where(Area.parent_code.in_([t.code for t in towns]), *_in_scope(principal),
                   Speaker.created_at < end,
                   or_(Speaker.retired_at.is_(None), Speaker.retired_at > start)))


def _outages(session: Session, ids: Select[Any], start: datetime, end: datetime,
             now: datetime) -> dict[str, list[Interval]]:
    """Detected outages per speaker overlapping ``[start, end)``.

    A silence counts from the moment the timeout made the speaker offline, even when the
    sweep noticed it later (the service was down, say).
    """
    timeout = timedelta(seconds=get_settings().heartbeat_timeout)
    found: dict[str, list[Interval]] = defaultdict(list)
    for speaker, opened, closed, heard in session.execute(
        select(Outage.speaker_id, Outage.opened_at, Outage.closed_at, Outage.last_heard_at)
        .where(Outage.source == DETECTED, Outage.speaker_id.in_(ids.scalar_subquery()),
               Outage.opened_at < end, or_(Outage.closed_at.is_(None), Outage.closed_at > start))
    ):
        began = min(opened, heard + timeout) if heard is not None else opened
        found[speaker].append((began, closed or now))
    return found


def _speaker_lives(session: Session, ids: Select[Any], start: datetime, end: datetime,
                   now: datetime) -> list[SpeakerLife]:
    outages = _outages(session, ids, start, end, now)
    # One index probe per speaker (speaker_id, at): never a scan of the heartbeat history.
    first_heard = (select(func.min(SpeakerHeartbeat.at))
                   .where(SpeakerHeartbeat.speaker_id == Speaker.id).scalar_subquery())
    lives = []
    for sid, village, created, retired, last_heard, first in session.execute(
        select(Speaker.id, Speaker.village_code, Speaker.created_at, Speaker.retired_at,
               Speaker.last_heard_at, first_heard).where(Speaker.id.in_(ids.scalar_subquery()))
    ):
        # History pruned by retention but heard since: heard from its registration.
        heard = first or (created if last_heard is not None else None)
        lives.append(SpeakerLife(village=village, registered=created, retired=retired,
                                 first_heard=heard, outages=tuple(outages.get(sid, ()))))
    return lives


@dataclass
class _Tally:
    """Seconds per period of one town: village time, silent village time, speaker time."""

    villages: list[float]
    audible: list[float]
    speakers: list[float]
    online: list[float]

    @classmethod
    def empty(cls, periods: int) -> _Tally:
        return cls(*([0.0] * periods for _ in range(4)))


def _add(totals: list[float], values: Sequence[float]) -> None:
    for i, value in enumerate(values):
        totals[i] += value


def _tally(villages: Sequence[tuple[str, str, datetime]], lives: Sequence[SpeakerLife],
           edges: Sequence[datetime], periods: int) -> dict[str, _Tally]:
    end = edges[-1]
    town_of = {code: town for code, town, _ in villages}
    tallies = {town: _Tally.empty(periods) for town in town_of.values()}
    heard: dict[str, list[Interval]] = defaultdict(list)
    for life in lives:
        tally = tallies.get(town_of.get(life.village, ""))
        if tally is None:
            continue
        registered = [(life.registered, min(life.retired or end, end))]
        online = online_periods(life, end)
        _add(tally.speakers, seconds_in_periods(registered, edges))
        _add(tally.online, seconds_in_periods(online, edges))
        heard[life.village] += online
    for code, town, created in villages:
        _add(tallies[town].villages, seconds_in_periods([(created, end)], edges))
        _add(tallies[town].audible, seconds_in_periods(merge(heard[code]), edges))
    return tallies


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _periods(town: Area, tally: _Tally, edges: Sequence[datetime]) -> list[CoveragePeriod]:
    tz = get_settings().tz
    rows = []
    for i in range(len(edges) - 1):
        length = (edges[i + 1] - edges[i]).total_seconds()
        silent = max(tally.villages[i] - tally.audible[i], 0.0)
        rows.append(CoveragePeriod(  # type: ignore[call-arg]
            town=town.code, name=town.name, from_=edges[i].astimezone(tz),
            to=edges[i + 1].astimezone(tz),
            villages=round(tally.villages[i] / length, 2),
            villages_silent=round(silent / length, 2),
            silent_rate=_ratio(silent, tally.villages[i]),
            speakers=round(tally.speakers[i] / length, 2),
            speakers_online=round(tally.online[i] / length, 2),
            online_rate=_ratio(tally.online[i], tally.speakers[i])))
    return rows


def coverage_history(*, session: Session, principal: Principal, edges: Sequence[datetime],
                     town: str | None = None, now: datetime | None = None
                     ) -> list[CoveragePeriod]:
    """Coverage per town (in scope, or the one asked) for each period between ``edges``."""
    now = now or utcnow()
    towns = _towns(session, principal, town)
    start, end = edges[0], edges[-1]
    villages = _villages(session, principal, towns)
    lives = _speaker_lives(session, _speakers(principal, towns, start, end), start, end, now)
    tallies = _tally(villages, lives, edges, len(edges) - 1)
    empty = _Tally.empty(len(edges) - 1)
    return [row for t in towns for row in _periods(t, tallies.get(t.code, empty), edges)]


def coverage_history_csv(items: Sequence[CoveragePeriod]) -> str:
    """Coverage history as CSV, one line per town and period (times ISO 8601, local)."""
    def value(item: CoveragePeriod, column: str) -> Any:
        raw = getattr(item, "from_" if column == "from" else column)
        return raw.isoformat() if isinstance(raw, datetime) else "" if raw is None else raw

    return csv_text(CSV_COLUMNS, ([value(item, c) for c in CSV_COLUMNS] for item in items))


# ---------------------------------------------------------------- repairs and causes


@dataclass(frozen=True)
class RepairPeriod:
    """Tickets closed in one period and how long their repairs took (hours)."""

    start: datetime
    end: datetime
    closed: int
    median_hours: float | None
    mean_hours: float | None


def _tickets_in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    return [] if principal.area_path is None else [within(Ticket.area_path, principal.area_path)]


def repair_times(*, session: Session, principal: Principal,
                 edges: Sequence[datetime]) -> list[RepairPeriod]:
    """Median and mean time to repair of the tickets closed in each period."""
    hours: list[list[float]] = [[] for _ in range(len(edges) - 1)]
    for opened, closed in session.execute(
        select(Ticket.opened_at, Ticket.closed_at).where(
            Ticket.closed_at >= edges[0], Ticket.closed_at < edges[-1],
            *_tickets_in_scope(principal))
    ):
        if closed is None:  # never: the window leaves open tickets out
            continue
        index = bisect.bisect_right(edges, closed) - 1
        hours[index].append((closed - opened).total_seconds() / 3600)
    return [RepairPeriod(start=edges[i], end=edges[i + 1], closed=len(h),
                         median_hours=round(statistics.median(h), 2) if h else None,
                         mean_hours=round(statistics.fmean(h), 2) if h else None)
            for i, h in enumerate(hours)]


def outages_by_cause(*, session: Session, principal: Principal, start: datetime,
                     end: datetime) -> dict[str, int]:
    """Outages (detected and reported, short ones too) opened in ``[start, end)``, by cause."""
    counts = dict.fromkeys(CAUSES, 0)
    stmt = (select(Outage.cause, func.count()).join(Area, Area.code == Outage.village_code)
            .where(and_(Outage.opened_at >= start, Outage.opened_at < end),
                   *_in_scope(principal)).group_by(Outage.cause))
    for cause, n in session.execute(stmt):
        counts[cause] = counts.get(cause, 0) + int(n)
    return counts
