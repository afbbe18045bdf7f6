"""Request and response shapes for schedules, their occurrences and a village's calendar."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import SaneDate

__all__ = [
    "SlotTime",
    "ScheduleCreate",
    "ScheduleUpdate",
    "ScheduleRead",
    "OccurrenceRead",
    "AirTime",
    "CalendarEntry",
    "CalendarRead",
]

DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
TimeOfDay = Field(pattern=r"^\d{1,2}:\d{2}$", examples=["07:00"])


class SlotTime(BaseModel):
    """A time of day with its own volume: ``{"at": "06:30", "volume": 40}``."""

    model_config = ConfigDict(extra="forbid")

    at: str = Field(pattern=r"^\d{1,2}:\d{2}$", examples=["06:30"])
    volume: int | None = Field(default=None, ge=0, le=100,
                               description="this slot's volume; null: the schedule's")


class _ScheduleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    times: list[str | SlotTime] | None = Field(
        default=None, max_length=288,
        description='local times of day, e.g. ["07:00", "18:30"]; a time may carry its own '
        'volume: {"at": "06:30", "volume": 40}',
        examples=[["07:00", {"at": "12:00", "volume": 40}, "18:30"]],
    )
    every_minutes: int | None = Field(
        default=None, ge=1, le=1440, description="instead of times: play every N minutes in window"
    )
    window: list[str] | None = Field(
        default=None, min_length=2, max_length=2, description='["HH:MM", "HH:MM"], both included',
        examples=[["07:00", "20:00"]],
    )
    days: list[DayName] | None = Field(default=None, min_length=1, max_length=7,
                                       description="mon … sun (default: every day)")
    start_date: SaneDate | None = Field(default=None, description="first local date it plays")
    end_date: SaneDate | None = Field(default=None, description="last local date it plays")
    loop: int | None = Field(default=None, ge=1, le=100,
                             description="how many times the playlist plays back to back")
    volume: int | None = Field(default=None, ge=0, le=100,
                               description="0–100; null leaves the terminal's own volume")
    enabled: bool | None = None
    skip_dates: list[date] | None = Field(
        default=None, max_length=1000, description="local dates it never plays (holidays, 春节)")
    extra_dates: list[date] | None = Field(
        default=None, max_length=1000,
        description="local dates it plays whatever the weekday, lunar day or day type "
        "(between start_date and end_date)")
    lunar_days: list[int] | str | None = Field(
        default=None,
        description="lunar days of the month it plays (农历 market days): [3, 6, 9, 13, …] or "
        'a phrase, "逢三六九" or "逢五逢十"', examples=["逢三六九"])
    day_types: list[str] | None = Field(
        default=None, max_length=20, description="plays only on dates of these day types")
    skip_day_types: list[str] | None = Field(
        default=None, max_length=20, description="never plays on dates of these day types")


class ScheduleCreate(_ScheduleFields):
    """A new schedule: a playlist, where (area codes) and when (times or every N minutes)."""

    name: str = Field(min_length=1, max_length=200)
    playlist: str = Field(min_length=1, max_length=40, description="playlist id")
    targets: list[str] = Field(
        min_length=1, max_length=1000,
        description="area codes; a town or district means all its villages, present and future",
    )


class ScheduleUpdate(_ScheduleFields):
    """Changes to a schedule; give ``times`` or ``every_minutes`` + ``window`` to switch kind."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    playlist: str | None = Field(default=None, min_length=1, max_length=40)
    targets: list[str] | None = Field(default=None, min_length=1, max_length=1000)


class ScheduleRead(BaseModel):
    """A schedule as clients see it, with its next three start times (local, with offset)."""

    id: str
    name: str
    playlist: str
    area: str | None = Field(description="the nearest area containing every target")
    targets: list[str]
    times: list[str] | None
    every_minutes: int | None
    window: list[str] | None
    days: list[str]
    start_date: date | None
    end_date: date | None
    loop: int
    volume: int | None
    slot_volumes: dict[str, int] = Field(
        description='volumes of single slots ("HH:MM" → 0–100), overriding `volume`')
    skip_dates: list[date]
    extra_dates: list[date]
    lunar_days: list[int]
    day_types: list[str]
    skip_day_types: list[str]
    enabled: bool
    created_by: str
    created_at: datetime
    updated_at: datetime
    next_occurrences: list[datetime]


class OccurrenceRead(BaseModel):
    """One start of a schedule and when its slot ends (loop × playlist duration later)."""

    start_at: datetime
    end_at: datetime


class AirTime(BaseModel):
    """A stretch during which the entry actually sounds (the playout rule applied)."""

    start_at: datetime
    end_at: datetime


class CalendarEntry(BaseModel):
    """Something that plays (or was to play) in the village: an order or a planned occurrence."""

    kind: Literal["routine", "urgent"]
    order: str | None = Field(description="play order id; null for an occurrence not yet issued")
    schedule: str | None
    broadcast: str | None
    title: str | None
    level: int | None
    mode: str
    start_at: datetime
    end_at: datetime = Field(description="start + loop × duration: when it ends if nothing cuts it")
    not_after: datetime
    loop: int
    volume: int | None
    state: str = Field(description="the order's state, or 'planned' beyond the issuing horizon")
    expected: str = Field(
        description="what the playout rule makes of it: finished, preempted, expired, missed, "
        "cancelled, silent, or playing/pending/interrupted when it has not ended by `to`",
    )
    air: list[AirTime] = Field(description="when it actually sounds inside [from, to)")


class CalendarRead(BaseModel):
    """What plays in one village between ``from`` and ``to``, routine and urgent."""

    model_config = ConfigDict(populate_by_name=True)

    village: str
    from_: datetime = Field(alias="from")
    to: datetime
    items: list[CalendarEntry] = Field(description="one page of the entries, by start time")
    total: int = Field(description="how many entries [from, to) holds in all pages")
