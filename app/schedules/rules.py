"""Schedule rules → occurrences, on APScheduler 3.11's CronTrigger (pure: no DB, no HTTP).

A :class:`Rule` says when a schedule plays in one village: either fixed local
times of day (``times=("07:00", "18:30")``) or every N minutes inside a local
window (``every_minutes=30, window=("07:00", "20:00")``), on some days of the
week (``mon``…``sun``), between optional local start and end dates, in one
time zone.

Semantics, fixed here once for the whole service:

- Day names go to APScheduler as names, never as crontab numbers (APScheduler 3
  counts 0 = Monday, crontab 0 = Sunday).
- A window's slots are ``window start + k × every_minutes`` up to and
  *including* the window end (``07:00``–``20:00`` every 60 → 07:00 … 20:00,
  14 slots), like cron's ``hour=7-20``. Every window restarts at its start on
  each day (``every_minutes=45`` → 07:00, 07:45, 08:30, …).
- Daylight saving time follows APScheduler and PEP 495 (``fold=0``): a local
  time that does not exist on a spring-forward day plays as far after the
  jump as it was after the last valid time (02:30 in Berlin → 03:30 CEST); a
  local time that happens twice on a fall-back night plays once, the first
  time. (The CronTrigger itself fires twice then; :func:`occurrences` is the
  truth, so issue orders from it, not from the fire times.)
- ``start_date`` and ``end_date`` are local dates, both inclusive.
- Quiet hours ``"22:00-06:00"`` are the half-open local interval
  [22:00, 06:00): a slot is inside when its *start* is (22:00 inside, 06:00
  outside). Equal ends (``"00:00-00:00"``) mean no quiet hours.
- Slots are half-open intervals [start, start + duration): back to back is
  not an overlap.
- The village calendar: ``skip_dates`` never play; ``extra_dates`` play whatever the
  weekday, lunar day or day type (they must lie between the start and end dates);
  otherwise a day plays when its weekday is listed, its lunar day of the month is in
  ``lunar_days`` (when given: market days, 逢三六九) and it is one of ``day_type_dates``
  (when given: the dates of the day types the schedule follows).

Occurrences are cached per (rule, local day), and triggers per rule, so
re-computing a 24 h horizon for many schedules costs microseconds per rule.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from app.schedules.lunar import lunar_day

__all__ = [
    "DAY_NAMES",
    "DEFAULT_TZ",
    "RuleError",
    "Rule",
    "QuietHours",
    "occurrences",
    "next_occurrences",
    "plays_on",
    "cron_triggers",
    "parse_quiet_hours",
    "in_quiet_hours",
    "quiet_time_violations",
    "quiet_hours_end",
    "find_overlaps",
    "slot_conflicts",
    "self_overlaps",
]

DAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_TZ = "Asia/Shanghai"
_MINUTES_PER_DAY = 24 * 60
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_QUIET = re.compile(r"^\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
_NO_QUIET = {"", "off", "none"}
# Slots this late may cross midnight when a DST gap (at most a few hours) shifts them.
_LATE_SLOT = 20 * 60
# How far ahead next_occurrences looks for a rule whose days come from the calendar (market
# days, day types, extra dates): a day type may be assigned only once a year.
_CALENDAR_LOOKAHEAD = timedelta(days=400)

Interval = tuple[datetime, datetime]


class RuleError(ValueError):
    """A schedule rule (or quiet-hours setting) that cannot be used; the message says why."""


def _parse_minute_of_day(value: object, what: str) -> int:
    """``"07:30"`` → 450; raise RuleError naming ``what`` if it is not a valid HH:MM."""
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        raise RuleError(f"{what}: expected a time of day as HH:MM, got {value!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise RuleError(f"{what}: {value!r} is not a time of day (00:00 to 23:59)")
    return hour * 60 + minute


def _hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuleError(f"unknown time zone {name!r}") from exc


@dataclass(frozen=True)
class Rule:
    """When a schedule plays: local times (or every N minutes in a window), days, dates, zone.

    Exactly one of ``times`` and ``every_minutes`` (with ``window``) is given.
    Construction validates and normalises (``"7:00"`` → ``"07:00"``, lists →
    tuples, day names lower-cased) and raises :class:`RuleError` on bad input.
    The rule is hashable, so it can key caches.
    """

    times: tuple[str, ...] = ()
    every_minutes: int | None = None
    window: tuple[str, str] | None = None
    days: tuple[str, ...] = DAY_NAMES
    start_date: date | None = None
    end_date: date | None = None
    tz: str = DEFAULT_TZ
    skip_dates: frozenset[date] = frozenset()
    extra_dates: frozenset[date] = frozenset()
    lunar_days: tuple[int, ...] = ()
    day_type_dates: frozenset[date] | None = None

    def __post_init__(self) -> None:
        self._normalise_times()
        self._check_window()
        self._normalise_days()
        self._check_dates()
        self._normalise_calendar()
        _zone(self.tz)

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # frozen: normalisation happens once, here

    def _normalise_times(self) -> None:
        times = tuple(self.times or ())
        if times and self.every_minutes is not None:
            raise RuleError("give either times or every_minutes with a window, not both")
        if not times and self.every_minutes is None:
            raise RuleError("times must list at least one time of day (or give every_minutes)")
        minutes = [_parse_minute_of_day(t, "times") for t in times]
        duplicates = sorted({_hhmm(m) for m in minutes if minutes.count(m) > 1})
        if duplicates:
            raise RuleError(f"times: duplicate time(s) {', '.join(duplicates)}")
        self._set("times", tuple(_hhmm(m) for m in minutes))

    def _check_window(self) -> None:
        if self.every_minutes is None:
            if self.window is not None:
                raise RuleError("window is only allowed together with every_minutes")
            return
        every = self.every_minutes
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= 1440:
            raise RuleError(f"every_minutes must be a whole number from 1 to 1440, got {every!r}")
        if self.window is None or isinstance(self.window, str) or len(self.window) != 2:
            raise RuleError('every_minutes needs a window ["HH:MM", "HH:MM"]')
        first = _parse_minute_of_day(self.window[0], "window start")
        last = _parse_minute_of_day(self.window[1], "window end")
        if last <= first:
            raise RuleError(
                f"window end {_hhmm(last)} must be after its start {_hhmm(first)} "
                "(a window cannot span midnight)"
            )
        self._set("window", (_hhmm(first), _hhmm(last)))

    def _normalise_days(self) -> None:
        if isinstance(self.days, str):
            raise RuleError(f"days must be a list of day names, got the string {self.days!r}")
        days = tuple(str(d).strip().lower() for d in self.days)
        if not days:
            raise RuleError("days must name at least one day (mon … sun)")
        unknown = [d for d in days if d not in DAY_NAMES]
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise RuleError(f"days: unknown day name(s) {names}; use mon … sun")
        if len(set(days)) != len(days):
            raise RuleError("days: a day is listed twice")
        self._set("days", tuple(d for d in DAY_NAMES if d in days))

    def _check_dates(self) -> None:
        for name in ("start_date", "end_date"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, datetime) or not isinstance(value, date)):
                raise RuleError(f"{name} must be a date (YYYY-MM-DD), got {value!r}")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise RuleError(f"end_date {self.end_date} is before start_date {self.start_date}")

    def _normalise_calendar(self) -> None:
        for name in ("skip_dates", "extra_dates"):
            values = getattr(self, name)
            if isinstance(values, str) or any(
                    isinstance(v, datetime) or not isinstance(v, date) for v in values):
                raise RuleError(f"{name} must be a list of dates (YYYY-MM-DD)")
            self._set(name, frozenset(values))
        both = sorted(self.skip_dates & self.extra_dates)
        if both:
            raise RuleError(f"{both[0]} is both a skip date and an extra date")
        outside = sorted(d for d in self.extra_dates
                         if (self.start_date and d < self.start_date)
                         or (self.end_date and d > self.end_date))
        if outside:
            raise RuleError(f"extra date {outside[0]} lies outside start_date … end_date")
        days = tuple(self.lunar_days or ())
        if any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 30 for d in days):
            raise RuleError(f"lunar_days are lunar days of the month, 1 to 30, got {days!r}")
        self._set("lunar_days", tuple(sorted(set(days))))
        if self.day_type_dates is not None:
            self._set("day_type_dates", frozenset(self.day_type_dates))

    @property
    def follows_calendar(self) -> bool:
        """Whether some days come from the calendar (not only the weekly pattern)."""
        return bool(self.skip_dates or self.extra_dates or self.lunar_days
                    or self.day_type_dates is not None)

    @property
    def zone(self) -> ZoneInfo:
        """The rule's time zone."""
        return _zone(self.tz)

    @property
    def slots(self) -> tuple[str, ...]:
        """The local start times ("HH:MM", sorted) of one active day."""
        return tuple(_hhmm(m) for m in _day_minutes(self))


@lru_cache(maxsize=4096)
def _day_minutes(rule: Rule) -> tuple[int, ...]:
    """Minutes after local midnight at which the rule plays on an active day, sorted."""
    if rule.every_minutes is None:
        return tuple(sorted(_parse_minute_of_day(t, "times") for t in rule.times))
    assert rule.window is not None
    first = _parse_minute_of_day(rule.window[0], "window start")
    last = _parse_minute_of_day(rule.window[1], "window end")
    return tuple(range(first, last + 1, rule.every_minutes))


def _date_bounds(rule: Rule, zone: tzinfo) -> dict[str, datetime | None]:
    """CronTrigger start/end datetimes for the rule's inclusive local dates."""
    start = datetime.combine(rule.start_date, time.min, zone) if rule.start_date else None
    end = datetime.combine(rule.end_date, time.max, zone) if rule.end_date else None
    return {"start_date": start, "end_date": end}


@lru_cache(maxsize=4096)
def _day_trigger(rule: Rule) -> CronTrigger:
    """Fires at local noon on each active day: the day-of-week and date-range filter."""
    zone = rule.zone
    return CronTrigger(
        day_of_week=",".join(rule.days), hour=12, minute=0, timezone=zone,
        **_date_bounds(rule, zone),
    )


def plays_on(rule: Rule, day: date) -> bool:
    """Whether the rule plays on a local date: its weekdays and dates, then the calendar."""
    if day in rule.skip_dates:
        return False
    if day in rule.extra_dates:
        return True
    noon = datetime.combine(day, time(12), rule.zone)
    fire = _day_trigger(rule).get_next_fire_time(None, noon)
    if fire is None or fire.date() != day:
        return False
    if rule.lunar_days and lunar_day(day).day not in rule.lunar_days:
        return False
    return rule.day_type_dates is None or day in rule.day_type_dates


@lru_cache(maxsize=65536)
def _day_occurrences(rule: Rule, day: date) -> tuple[datetime, ...]:
    """The rule's occurrences on one local day, as sorted UTC datetimes (empty if inactive)."""
    zone = rule.zone
    if not plays_on(rule, day):
        return ()
    # fold=0 (the default) gives APScheduler's choice in DST gaps and repeated hours.
    local = [datetime(day.year, day.month, day.day, m // 60, m % 60, tzinfo=zone)
             for m in _day_minutes(rule)]
    return tuple(sorted({dt.astimezone(UTC) for dt in local}))


def _require_aware(**moments: datetime) -> None:
    for name, moment in moments.items():
        if not isinstance(moment, datetime) or moment.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")


def _days_between(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def occurrences(rule: Rule, start: datetime, end: datetime) -> list[datetime]:
    """Start times of the rule in [start, end), as sorted, distinct, aware UTC datetimes."""
    _require_aware(start=start, end=end)
    if end <= start:
        return []
    first = start.astimezone(rule.zone).date()
    if _day_minutes(rule)[-1] >= _LATE_SLOT:
        first -= timedelta(days=1)  # a DST gap can push the previous day's last slot past midnight
    last = end.astimezone(rule.zone).date()
    if rule.start_date:
        first = max(first, rule.start_date - timedelta(days=1))
    if rule.end_date:
        last = min(last, rule.end_date + timedelta(days=1))
    found: list[datetime] = []
    for day in _days_between(first, last):
        day_starts = _day_occurrences(rule, day)
        lo = bisect.bisect_left(day_starts, start)
        found.extend(day_starts[lo:bisect.bisect_left(day_starts, end, lo)])
    if any(b <= a for a, b in zip(found, found[1:], strict=False)):
        found = sorted(set(found))  # only after a DST shift across midnight
    return found


def next_occurrences(rule: Rule, now: datetime, n: int = 3) -> list[datetime]:
    """The first ``n`` start times at or after ``now`` (fewer if the end_date comes first)."""
    _require_aware(now=now)
    if n <= 0:
        return []
    zone = rule.zone
    day = now.astimezone(zone).date() - timedelta(days=1)
    if rule.start_date:
        day = max(day, rule.start_date - timedelta(days=1))
    # Every active day has a slot, and every listed weekday comes within a week.
    last = day + (_CALENDAR_LOOKAHEAD if rule.follows_calendar
                  else timedelta(days=7 * (n + 1) + 2))
    if rule.end_date:
        last = min(last, rule.end_date + timedelta(days=1))
    found: list[datetime] = []
    reached = False
    for current in _days_between(day, last):
        found.extend(t for t in _day_occurrences(rule, current) if t >= now)
        if len(found) >= n:
            if reached:  # one more day scanned: a DST shift may move a slot across midnight
                break
            reached = True
    return sorted(set(found))[:n]


def _cron_list(values: Sequence[int]) -> str:
    """[7, 8, 9, 12] → "7-9,12": a compact CronTrigger field expression."""
    parts: list[str] = []
    run_start = previous = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        parts.append(str(run_start) if run_start == previous else f"{run_start}-{previous}")
        if value is not None:
            run_start = previous = value
    return ",".join(parts)


def cron_triggers(rule: Rule, tz: str | tzinfo | None = None) -> list[CronTrigger]:
    """CronTriggers firing at the rule's slots, in ``tz`` (default: the rule's zone).

    ``times`` rules give one trigger per time (one APScheduler job per schedule
    time). ``every_minutes`` rules group the window's slots by hour: hours with
    the same minutes share a trigger, so a step that does not divide 60 (45 →
    07:00, 07:45, 08:30, 09:15, 10:00 …) is still exact. On a fall-back night a
    trigger fires twice for a repeated local time; :func:`occurrences` counts it
    once.
    """
    zone = _zone(tz) if isinstance(tz, str) else (tz or rule.zone)
    common = {"day_of_week": ",".join(rule.days), "timezone": zone, **_date_bounds(rule, zone)}
    if rule.every_minutes is None:
        return [CronTrigger(hour=int(t[:2]), minute=int(t[3:]), **common) for t in rule.times]
    minutes_by_hour: dict[int, list[int]] = {}
    for slot in _day_minutes(rule):
        minutes_by_hour.setdefault(slot // 60, []).append(slot % 60)
    hours_by_minutes: dict[tuple[int, ...], list[int]] = {}
    for hour, minutes in minutes_by_hour.items():
        hours_by_minutes.setdefault(tuple(minutes), []).append(hour)
    return [
        CronTrigger(hour=_cron_list(hours), minute=_cron_list(minutes), **common)
        for minutes, hours in hours_by_minutes.items()
    ]


class QuietHours(NamedTuple):
    """Local quiet hours [start, end); wraps over midnight when end < start."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet_hours(text: str) -> QuietHours | None:
    """``"22:00-06:00"`` → QuietHours; ``""``, ``"off"`` or ``"none"`` → None (no quiet hours)."""
    if text.strip().lower() in _NO_QUIET:
        return None
    match = _QUIET.match(text)
    if not match:
        raise RuleError(f"quiet hours: expected HH:MM-HH:MM, got {text!r}")
    start = _parse_minute_of_day(match.group(1), "quiet hours start")
    end = _parse_minute_of_day(match.group(2), "quiet hours end")
    return QuietHours(time(start // 60, start % 60), time(end // 60, end % 60))


def in_quiet_hours(local_time: time, quiet: tuple[time, time] | None) -> bool:
    """True if a local time of day lies in quiet hours [start, end), wrapping over midnight."""
    if quiet is None:
        return False
    start, end = quiet
    moment = local_time.replace(tzinfo=None)
    if start == end:
        return False
    if start < end:
        return start <= moment < end
    return moment >= start or moment < end


def quiet_time_violations(rule: Rule, quiet: tuple[time, time] | None) -> list[str]:
    """The rule's local slots ("HH:MM", sorted) that start inside quiet hours."""
    return [
        _hhmm(m) for m in _day_minutes(rule)
        if in_quiet_hours(time(m // 60, m % 60), quiet)
    ]


def quiet_hours_end(moment: datetime, quiet: tuple[time, time] | None,
                    tz: str | tzinfo = DEFAULT_TZ) -> datetime | None:
    """If ``moment`` falls in quiet hours (local to ``tz``), when they end (aware UTC); else None.

    Urgent levels III–IV created in quiet hours start then (SPEC §8).
    """
    _require_aware(moment=moment)
    zone = _zone(tz) if isinstance(tz, str) else tz
    local = moment.astimezone(zone)
    if quiet is None or not in_quiet_hours(local.time(), quiet):
        return None
    start, end = quiet
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)  # in the evening part of a wrapping interval
    return datetime.combine(day, end, zone).astimezone(UTC)


def _non_empty(slots: Iterable[Interval]) -> list[Interval]:
    return [(s, e) for s, e in slots if s < e]


def find_overlaps(slots_a: Iterable[Interval], slots_b: Iterable[Interval]) -> list[Interval]:
    """The intervals of ``slots_a`` (sorted) that overlap any of ``slots_b``.

    Intervals are half-open [start, end): touching ends do not overlap, and an
    empty interval overlaps nothing. O((n + m) log m): ``slots_b`` is sorted by
    start with running maxima of ends, so "some b starts before a ends and ends
    after a starts" is one bisection per a.
    """
    b_sorted = sorted(_non_empty(slots_b))
    b_starts = [s for s, _ in b_sorted]
    running_end: list[datetime] = []
    for _, end in b_sorted:
        running_end.append(max(running_end[-1], end) if running_end else end)
    found = []
    for a_start, a_end in sorted(_non_empty(slots_a)):
        k = bisect.bisect_left(b_starts, a_end)
        if k and running_end[k - 1] > a_start:
            found.append((a_start, a_end))
    return found


def _slots(starts: Iterable[datetime], duration: timedelta) -> list[Interval]:
    return [(s, s + duration) for s in starts]


def slot_conflicts(rule_a: Rule, duration_a_s: float, rule_b: Rule, duration_b_s: float,
                   start: datetime, end: datetime) -> list[datetime]:
    """Start times of rule_a's occurrences in [start, end) whose slot overlaps one of rule_b's.

    A slot lasts its duration in seconds (loop × playlist duration); rule_b's
    slots that begin before ``start`` but are still playing count too.
    """
    duration_a = timedelta(seconds=duration_a_s)
    duration_b = timedelta(seconds=duration_b_s)
    a_slots = _slots(occurrences(rule_a, start, end), duration_a)
    b_slots = _slots(occurrences(rule_b, start - duration_b, end + duration_a), duration_b)
    return [s for s, _ in find_overlaps(a_slots, b_slots)]


def self_overlaps(rule: Rule, duration_s: float, start: datetime, end: datetime) -> list[datetime]:
    """Start times in [start, end) at which the rule's previous slot is still playing."""
    duration = timedelta(seconds=duration_s)
    starts = occurrences(rule, start - duration, end)
    return [
        later for earlier, later in zip(starts, starts[1:], strict=False)
        if later >= start and earlier + duration > later
    ]
