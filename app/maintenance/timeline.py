"""Online time from outage intervals (pure): when each speaker could be heard, cut into periods.

The coverage report is a snapshot; its history is derived from what the service already
keeps with times: when a speaker was registered (and retired), when it was first heard, and
its detected outages (opened when it fell silent past the heartbeat timeout or reported a
fault, closed when heard healthy again). A speaker is *online* from its first heartbeat to
its retirement, except during those outages; a village is *silent* while none of its
speakers is online (a village without speakers is always silent, as in the snapshot).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = [
    "Interval",
    "Step",
    "SpeakerLife",
    "merge",
    "subtract",
    "online_periods",
    "period_edges",
    "seconds_in_periods",
]

Interval = tuple[datetime, datetime]
Step = Literal["hour", "day"]


@dataclass(frozen=True)
class SpeakerLife:
    """What is known of one speaker's past: registration, first heartbeat, outages."""

    village: str
    registered: datetime
    retired: datetime | None
    first_heard: datetime | None  # None: never heard, so never online
    outages: tuple[Interval, ...] = ()


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time (empty ones dropped)."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(span: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """The parts of ``span`` outside every hole."""
    parts, cursor = [], span[0]
    for start, end in merge(holes):
        if end <= cursor or start >= span[1]:
            continue
        if start > cursor:
            parts.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < span[1]:
        parts.append((cursor, span[1]))
    return parts


def online_periods(life: SpeakerLife, until: datetime) -> list[Interval]:
    """When the speaker was online, up to ``until``."""
    if life.first_heard is None:
        return []
    start = max(life.registered, life.first_heard)
    end = min(life.retired or until, until)
    if end <= start:
        return []
    return subtract((start, end), life.outages)


def period_edges(start: datetime, end: datetime, step: Step, tz: ZoneInfo) -> list[datetime]:
    """Boundaries (in UTC) of local hours or days from the one holding ``start`` until past
    ``end``.

    Days begin at local midnight (23 or 25 hours long across a DST change); hours are real
    hours from the local hour holding ``start``. UTC, because Python subtracts and compares
    two times of one zone by their wall clocks.
    """
    local = start.astimezone(tz)
    if step == "day":
        day, edges = local.date(), list[datetime]()
        while not edges or edges[-1] < end:
            edges.append(_midnight(day, tz).astimezone(UTC))
            day += timedelta(days=1)
        return edges
    edges = [local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)]
    while edges[-1] < end:
        edges.append(edges[-1] + timedelta(hours=1))
    return edges


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def seconds_in_periods(intervals: Iterable[Interval], edges: Sequence[datetime]) -> list[float]:
    """Seconds of ``intervals`` inside each period ``[edges[i], edges[i + 1])``."""
    totals = [0.0] * max(len(edges) - 1, 0)
    for start, end in intervals:
        index = max(bisect.bisect_right(edges, start) - 1, 0)
        while index < len(totals) and edges[index] < end:
            overlap = min(end, edges[index + 1]) - max(start, edges[index])
            if overlap > timedelta(0):
                totals[index] += overlap.total_seconds()
            index += 1
    return totals
