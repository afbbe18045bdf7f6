"""A schedule's village calendar as rule fields: skip and extra dates, lunar days, day types.

Stored schedules keep dates as ISO strings and day types by name; the pure
:class:`~app.schedules.rules.Rule` wants dates. Day types are resolved to their dates here
(one indexed query, only for schedules that use them). A date both skipped by a day type
and listed as an extra date plays: the explicit list wins over the shared calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from app.daytypes.models import DayType, DayTypeDate
from app.errors import InvalidInput

__all__ = ["calendar_fields", "schedule_calendar", "day_type_dates", "split_times"]


def day_type_dates(session: Session, names: Iterable[str]) -> frozenset[date]:
    """Every date assigned one of the day types."""
    names = list(names)
    if not names:
        return frozenset()
    return frozenset(session.scalars(
        select(DayTypeDate.day).where(DayTypeDate.day_type.in_(names))))


def _check_known(session: Session, names: Iterable[str]) -> None:
    names = list(dict.fromkeys(names))
    if not names:
        return
    known = set(session.scalars(select(DayType.name).where(DayType.name.in_(names))))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidInput(f"unknown day type(s): {', '.join(map(repr, unknown))}",
                           code="unknown_day_type", day_types=unknown)


def calendar_fields(
    session: Session | None,
    *,
    skip_dates: Iterable[date | str] | None = None,
    extra_dates: Iterable[date | str] | None = None,
    lunar_days: Iterable[int] | None = None,
    day_types: Iterable[str] | None = None,
    skip_day_types: Iterable[str] | None = None,
    check: bool = False,
) -> dict[str, Any]:
    """Keyword arguments of ``Rule`` for a schedule's calendar; ``check``: 422 on unknown day
    types (a stored schedule's day type deleted since simply has no dates)."""
    extra = frozenset(_as_date(d) for d in extra_dates or ())
    skip = {_as_date(d) for d in skip_dates or ()}
    follow, avoid = list(day_types or ()), list(skip_day_types or ())
    if session is not None and check:
        _check_known(session, [*follow, *avoid])
    if avoid and session is not None:
        skip |= day_type_dates(session, avoid) - extra
    fields: dict[str, Any] = {"skip_dates": frozenset(skip), "extra_dates": extra,
                              "lunar_days": tuple(lunar_days or ())}
    if follow:
        fields["day_type_dates"] = (day_type_dates(session, follow) if session is not None
                                    else frozenset())
    return fields


def schedule_calendar(schedule: Any) -> dict[str, Any]:
    """The calendar fields of a stored schedule (its day types read in its own session)."""
    return calendar_fields(
        object_session(schedule), skip_dates=schedule.skip_dates,
        extra_dates=schedule.extra_dates, lunar_days=schedule.lunar_days,
        day_types=schedule.day_types, skip_day_types=schedule.skip_day_types,
    )


def split_times(times: Iterable[Any] | None) -> tuple[list[str] | None, dict[str, int]]:
    """``["07:00", {"at": "12:00", "volume": 40}]`` → (["07:00", "12:00"], {"12:00": 40}).

    Objects may be pydantic ``SlotTime`` models or plain mappings (schedule files)."""
    if times is None:
        return None, {}
    plain: list[str] = []
    volumes: dict[str, int] = {}
    for item in times:
        if isinstance(item, str):
            plain.append(item)
            continue
        at = item["at"] if isinstance(item, dict) else item.at
        volume = item.get("volume") if isinstance(item, dict) else item.volume
        plain.append(at)
        if volume is not None:
            volumes[_hhmm(at)] = volume
    return plain, volumes


def _hhmm(value: str) -> str:
    hour, _, minute = value.partition(":")
    return f"{int(hour):02d}:{minute}" if hour.isdigit() else value


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)
