"""The week calendar's grid (pure): each entry as a block in its day column, by the hour.

Hours run from 06:00 to 22:00 (outside them is quiet time) unless something plays earlier
or later; entries that overlap share their column side by side, as calendars do.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["Block", "WeekGrid", "week_grid", "MIN_BLOCK_MINUTES"]

DAY_HOURS = (6, 22)
MIN_BLOCK_MINUTES = 24  # a two-minute notice still gets a block tall enough for its time


@dataclass(frozen=True)
class Block:
    """One entry placed in its day: top and height in percent of the day's hours."""

    entry: Any
    top: float
    height: float
    lane: int
    lanes: int


@dataclass(frozen=True)
class WeekGrid:
    """Seven days of blocks, the hours shown, and where today and now are."""

    first_hour: int
    last_hour: int
    days: list[list[Block]]
    today: int | None  # index of today in the week, if it is in it
    now_top: float | None  # percent down today's column, if now is inside the hours shown

    @property
    def hours(self) -> list[int]:
        """The hours labelled at the side."""
        return list(range(self.first_hour, self.last_hour))


def _local_minutes(moment: datetime, day: date, tz: ZoneInfo) -> float:
    """Minutes from ``day``'s local midnight (clipped to the day)."""
    local = moment.astimezone(tz)
    if local.date() < day:
        return 0.0
    if local.date() > day:
        return 24 * 60.0
    return local.hour * 60 + local.minute + local.second / 60


def _hour_span(days: Sequence[tuple[date, Sequence[Any]]], tz: ZoneInfo) -> tuple[int, int]:
    first, last = DAY_HOURS
    for day, entries in days:
        for e in entries:
            first = min(first, int(_local_minutes(e.start_at, day, tz) // 60))
            last = max(last, math.ceil(_local_minutes(e.end_at, day, tz) / 60))
    return first, min(max(last, first + 1), 24)


def _lanes(spans: list[tuple[float, float]]) -> list[tuple[int, int]]:
    """(lane, lanes) per span: overlapping spans side by side, per cluster of overlaps."""
    placed: list[tuple[int, int]] = [(0, 1)] * len(spans)
    order = sorted(range(len(spans)), key=lambda i: spans[i])
    cluster: list[int] = []
    ends: list[float] = []  # per lane: when its last span ends
    cluster_end = -1.0

    def close() -> None:
        for i in cluster:
            placed[i] = (placed[i][0], len(ends))

    for i in order:
        start, end = spans[i]
        if start >= cluster_end and cluster:
            close()
            cluster, ends = [], []
        lane = next((k for k, e in enumerate(ends) if e <= start), len(ends))
        if lane == len(ends):
            ends.append(end)
        else:
            ends[lane] = end
        placed[i] = (lane, 0)
        cluster.append(i)
        cluster_end = max(cluster_end, end)
    close()
    return placed


def week_grid(days: Sequence[tuple[date, Sequence[Any]]], now: datetime,
              tz: ZoneInfo) -> WeekGrid:
    """Blocks for each (day, entries) of the week; entries need ``start_at`` and ``end_at``."""
    first, last = _hour_span(days, tz)
    total = (last - first) * 60
    columns = []
    for day, entries in days:
        spans = []
        for e in entries:
            start = max(_local_minutes(e.start_at, day, tz), first * 60.0)
            end = max(_local_minutes(e.end_at, day, tz), start + MIN_BLOCK_MINUTES)
            spans.append((start, min(end, last * 60.0)))
        lanes = _lanes(spans)
        columns.append([Block(entry=e, top=(s - first * 60) / total * 100,
                              height=(f - s) / total * 100, lane=lane, lanes=count)
                        for e, (s, f), (lane, count) in zip(entries, spans, lanes, strict=True)])
    today_date = now.astimezone(tz).date()
    today = next((i for i, (day, _) in enumerate(days) if day == today_date), None)
    now_top = None
    if today is not None:
        minutes = _local_minutes(now, today_date, tz)
        if first * 60 <= minutes <= last * 60:
            now_top = (minutes - first * 60) / total * 100
    return WeekGrid(first_hour=first, last_hour=last, days=columns, today=today,
                    now_top=now_top)

