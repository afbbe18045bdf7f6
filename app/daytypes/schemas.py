"""Request and response shapes of day types."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DayTypeCreate", "DayTypeUpdate", "DayTypeRead"]

Name = Field(min_length=1, max_length=60, pattern=r"^[^/\s][^/]*$",
             examples=["春节", "农忙", "exam-day"])


class DayTypeCreate(BaseModel):
    """A new day type and the dates that have it."""

    model_config = ConfigDict(extra="forbid")

    name: str = Name
    description: str | None = Field(default=None, max_length=200)
    dates: list[date] = Field(default_factory=list, max_length=3660)


class DayTypeUpdate(BaseModel):
    """Rename nothing; change the description, replace the dates, or add and remove some."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=200)
    dates: list[date] | None = Field(default=None, max_length=3660,
                                     description="replaces every date")
    add: list[date] = Field(default_factory=list, max_length=3660)
    remove: list[date] = Field(default_factory=list, max_length=3660)


class DayTypeRead(BaseModel):
    """A day type, its dates and the schedules that follow or skip it."""

    name: str
    description: str | None
    dates: list[date]
    schedules: list[str] = Field(description="ids of the schedules that use it")
