"""Operating hours: when a terminal is powered by design, and what its silence means (pure).

Some villages switch their loudspeakers on only for the broadcasts (a timer socket, a
solar battery that must last): silence outside those windows is the design, not an outage.
A speaker's ``operating_hours`` is either a list of local windows ``[["06:30", "08:00"],
["11:30", "13:00"]]`` or ``"schedule"``: the windows of its village's play orders (from a
few minutes before each order starts to a few minutes after it ends).

The rule (:func:`silence_verdict`): a silent terminal is an outage when, inside one window,
it has been silent for the heartbeat timeout — counting from the later of its last
heartbeat and the window's start. So a terminal off all night must be heard within the
timeout of its first window's start, and one that dies two minutes before its window ends
opens nothing (it would have been switched off anyway).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "FOLLOW_SCHEDULE",
    "ORDER_LEAD",
    "ORDER_TAIL",
    "Window",
    "SilenceVerdict",
    "parse_operating_hours",
    "daily_windows",
    "order_windows",
    "silence_verdict",
]

FOLLOW_SCHEDULE = "schedule"
ORDER_LEAD = timedelta(minutes=5)  # a timer switches the terminal on a little before
ORDER_TAIL = timedelta(minutes=5)
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")

Window = tuple[datetime, datetime]


def _minute(value: object) -> int:
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise ValueError(f"expected a time of day as HH:MM, got {value!r}")
    minute = int(match.group(1)) * 60 + int(match.group(2))
    if minute > 24 * 60:
        raise ValueError(f"{value!r} is after 24:00")
    return minute


def parse_operating_hours(value: object) -> list[list[str]] | str | None:
    """Check and normalise operating hours; raise ValueError naming the problem.

    ``None`` (always on), ``"schedule"``, or local windows ``[start, end]`` with start before
    end (``"24:00"`` ends at midnight; a window cannot span it), sorted, not overlapping.
    """
    if value is None or value == FOLLOW_SCHEDULE:
        return value  # type: ignore[return-value]
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError('operating hours are "schedule" or a list of ["HH:MM", "HH:MM"]')
    windows = []
    for pair in value:
        if isinstance(pair, str) or not isinstance(pair, list | tuple) or len(pair) != 2:
            raise ValueError(f"a window is [start, end], got {pair!r}")
        start, end = _minute(pair[0]), _minute(pair[1])
        if end <= start:
            raise ValueError(f"window {pair!r} ends before it starts")
        windows.append((start, end))
    windows.sort()
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        if start < end:
            raise ValueError("operating windows overlap")
    return [[f"{s // 60:02d}:{s % 60:02d}", f"{e // 60:02d}:{e % 60:02d}"] for s, e in windows]


def _at(day: date, minute: int, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone) + timedelta(minutes=minute)


def daily_windows(hours: Sequence[Sequence[str]], start: datetime, end: datetime,
                  zone: ZoneInfo) -> list[Window]:
    """The local windows of every day that touch [start, end), as aware datetimes."""
    found = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        for first, until in hours:
            window = (_at(day, _minute(first), zone), _at(day, _minute(until), zone))
            if window[1] > start and window[0] < end:
                found.append(window)
        day += timedelta(days=1)
    return sorted(found)


def order_windows(orders: Iterable[tuple[datetime, datetime]]) -> list[Window]:
    """Windows around play orders (start, end): ORDER_LEAD before to ORDER_TAIL after, merged."""
    merged: list[list[datetime]] = []
    for start, end in sorted(orders):
        window = [start - ORDER_LEAD, end + ORDER_TAIL]
        if merged and window[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], window[1])
        else:
            merged.append(window)
    return [(a, b) for a, b in merged]


@dataclass(frozen=True, slots=True)
class SilenceVerdict:
    """Whether a silence is an outage now, and if not, when to look at it again (None: not
    before its next heartbeat or a change of its windows)."""

    outage: bool
    recheck_at: datetime | None = None


def silence_verdict(last_heard: datetime, now: datetime, windows: Sequence[Window],
                    timeout: timedelta) -> SilenceVerdict:
    """Judge a silence since ``last_heard`` against the windows the terminal should be on."""
    for start, end in sorted(windows):
        due = max(last_heard, start) + timeout
        if due > end:
            continue  # too short (or too late in it) to tell a silence from the design
        if due <= now:
            return SilenceVerdict(True)
        return SilenceVerdict(False, due)
    return SilenceVerdict(False, None)
