"""The week calendar's grid: blocks by the hour, overlaps side by side, today and now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.console.weekgrid import week_grid

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 3, 2)


@dataclass
class Entry:
    start_at: datetime
    end_at: datetime


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 2 + day, hour, minute, tzinfo=TZ)


def week(entries: dict[int, list[Entry]]) -> list[tuple[date, list[Entry]]]:
    return [(MONDAY + timedelta(days=i), entries.get(i, [])) for i in range(7)]


def test_blocks_sit_at_their_hour_and_overlaps_share_the_column() -> None:
    routine = Entry(at(1, 7), at(1, 8))
    urgent = Entry(at(1, 7, 30), at(1, 7, 45))
    later = Entry(at(1, 12), at(1, 12, 2))  # two minutes: still a readable block
    grid = week_grid(week({1: [routine, urgent, later]}), at(1, 14), TZ)
    assert (grid.first_hour, grid.last_hour) == (6, 22)
    first, second, third = grid.days[1]
    assert (round(first.top, 3), round(first.height, 3)) == (6.25, 6.25)  # 07:00 of 06–22
    assert (first.lane, first.lanes, second.lane, second.lanes) == (0, 2, 1, 2)
    assert (third.lane, third.lanes) == (0, 1)
    assert third.height == 24 / (16 * 60) * 100
    assert grid.today == 1 and grid.now_top == 50.0  # 14:00 is half way through 06–22
    assert grid.days[0] == []


def test_hours_widen_for_night_broadcasts_and_now_is_only_marked_in_its_week() -> None:
    night = Entry(at(3, 2, 10), at(3, 2, 20))  # an urgent alert at 02:10
    grid = week_grid(week({3: [night]}), at(9, 10), TZ)
    assert (grid.first_hour, grid.last_hour) == (2, 22)
    assert grid.days[3][0].top == 10 / (20 * 60) * 100
    assert grid.today is None and grid.now_top is None
    late = week_grid(week({}), at(0, 23, 30), TZ)
    assert late.today == 0 and late.now_top is None  # after the hours shown
