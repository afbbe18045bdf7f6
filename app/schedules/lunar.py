"""The Chinese lunar calendar (农历) for village market days, on lunar_python (pure, no DB).

Market days follow the lunar day of the month: "逢三六九" is the 3rd, 6th, 9th, 13th, 16th,
19th, 23rd, 26th and 29th; "逢五逢十" the 5th, 10th, 15th, 20th, 25th and 30th. Lunar months
have 29 or 30 days and a leap month (闰月) repeats a month's number, so neither can be
computed from the Gregorian date without the astronomical tables a lunar calendar library
keeps; lunar_python (MIT, maintained) supplies them. Each lunar year's month starts are read
once and kept, so a date costs one bisection.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from lunar_python import LunarYear, Solar

__all__ = ["LunarDay", "lunar_day", "parse_lunar_days", "LUNAR_DIGITS"]

LUNAR_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                "九": 9, "十": 10}
_MARKET = re.compile(r"^逢([一二三四五六七八九十、，,和逢\s]+)(?:赶集|集|日)?$")


@dataclass(frozen=True, slots=True)
class LunarDay:
    """A date in the lunar calendar: year, month (1–12), day (1–30), and a leap-month flag."""

    year: int
    month: int
    day: int
    leap: bool

    def __str__(self) -> str:
        return f"{self.year}-{'闰' if self.leap else ''}{self.month:02d}-{self.day:02d}"


@dataclass(frozen=True, slots=True)
class _Month:
    first: date
    year: int
    month: int  # negative for a leap month, as lunar_python counts them
    days: int


@lru_cache(maxsize=256)
def _months(lunar_year: int) -> tuple[_Month, ...]:
    """The months lunar_python lists for a lunar year (they start in the Gregorian year before)."""
    found = []
    for month in LunarYear.fromYear(lunar_year).getMonths():
        solar = Solar.fromJulianDay(month.getFirstJulianDay())
        found.append(_Month(date(solar.getYear(), solar.getMonth(), solar.getDay()),
                            month.getYear(), month.getMonth(), month.getDayCount()))
    return tuple(sorted(found, key=lambda m: m.first))


@lru_cache(maxsize=8192)
def lunar_day(day: date) -> LunarDay:
    """The lunar date of a Gregorian date (1901–2099 is what the tables are exact for)."""
    for year in (day.year, day.year + 1):
        months = _months(year)
        index = bisect.bisect_right([m.first for m in months], day) - 1
        if index < 0:
            continue
        month = months[index]
        if day < month.first + timedelta(days=month.days):
            return LunarDay(month.year, abs(month.month), (day - month.first).days + 1,
                            month.month < 0)
    raise ValueError(f"{day} lies outside the lunar calendar's tables")


def parse_lunar_days(value: str | list[int] | tuple[int, ...]) -> tuple[int, ...]:
    """Lunar days of the month from a list (``[3, 6, 9]``) or a market phrase
    (``"逢三六九"``: every day of the month ending in 3, 6 or 9; ``"逢五逢十"``: 5, 10, …, 30).

    Raises ValueError naming the problem.
    """
    if isinstance(value, str):
        return _from_phrase(value.strip())
    days = list(value)
    bad = [d for d in days if isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 30]
    if bad:
        raise ValueError(f"lunar days are whole numbers from 1 to 30, got {bad!r}")
    if len(set(days)) != len(days):
        raise ValueError("a lunar day is listed twice")
    return tuple(sorted(days))


def _from_phrase(text: str) -> tuple[int, ...]:
    match = _MARKET.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a market-day phrase like 逢三六九 or 逢五逢十")
    digits = [LUNAR_DIGITS[c] for c in match.group(1) if c in LUNAR_DIGITS]
    days: set[int] = set()
    for digit in digits:
        days.update((10, 20, 30) if digit == 10 else (digit, digit + 10, digit + 20))
    return tuple(sorted(days))
