"""Request and response shapes for speakers and their heartbeats."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.inputs import SafeText, SaneTime
from app.speakers.operating import parse_operating_hours

__all__ = [
    "SpeakerCreate",
    "SpeakerUpdate",
    "SpeakerRead",
    "SpeakerCreated",
    "TokenIssued",
    "HeartbeatIn",
    "HeartbeatAck",
    "Status",
]

Status = Literal["online", "offline", "fault", "maintenance"]
Serial = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:\-]+$")
Lat = Field(default=None, ge=-90, le=90)
Lon = Field(default=None, ge=-180, le=180)
OperatingHours = Annotated[
    list[list[str]] | Literal["schedule"] | None, AfterValidator(parse_operating_hours),
    Field(description='when it is powered by design: local windows [["06:30", "08:00"], …] '
          'or "schedule" (around its village\'s play orders); null: always. Silence outside '
          "is no outage", examples=[[["06:30", "08:00"], ["11:30", "13:00"]]]),
]


class SpeakerCreate(BaseModel):
    """A new terminal in a village."""

    model_config = ConfigDict(extra="forbid")

    serial: str = Serial
    village: str = Field(min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=200,
                                 description="where it hangs, e.g. 村委会楼顶")
    lat: float | None = Lat
    lon: float | None = Lon
    operating_hours: OperatingHours = None


class SpeakerUpdate(BaseModel):
    """Move, rename, relocate, reposition a terminal or put it in (or out of) maintenance."""

    model_config = ConfigDict(extra="forbid")

    village: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=200)
    lat: float | None = Lat
    lon: float | None = Lon
    maintenance: bool | None = None
    operating_hours: OperatingHours = None


class SpeakerRead(BaseModel):
    """A terminal as staff see it; ``status`` is derived when read."""

    id: str
    serial: str
    name: str | None
    location: str | None
    village: str
    town: str | None
    lat: float | None
    lon: float | None
    status: Status
    maintenance: bool
    last_heard_at: datetime | None
    power: str | None
    fault: str | None
    volume: int | None
    playing: str | None
    token_prefix: str | None
    created_at: datetime
    operating_hours: list[list[str]] | str | None = None


class SpeakerCreated(SpeakerRead):
    """The answer to registering a terminal: the only time its token is shown."""

    token: str


class TokenIssued(BaseModel):
    """A new terminal token (the previous one no longer works)."""

    id: str
    serial: str
    token: str
    token_prefix: str
    issued_at: datetime


class HeartbeatIn(BaseModel):
    """What a terminal says about itself; ``at`` is set when it sends a heartbeat it queued."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["ok", "fault"]
    power: Literal["mains", "battery", "off"]
    fault: SafeText | None = Field(default=None, max_length=200)
    volume: int | None = Field(default=None, ge=0, le=100)
    playing: Annotated[SafeText, Field(max_length=200)] | bool | None = None
    at: SaneTime | None = None


class HeartbeatAck(BaseModel):
    """The answer to a heartbeat, with the server's clock for terminals to correct drift.

    ``received_at`` (the request's arrival) and ``server_time`` (the answer's departure)
    let a terminal leave the server's own processing time out of its estimate, as NTP does.
    """

    speaker: str
    village: str
    received_at: datetime
    server_time: datetime
