"""Request and response shapes for outages, crews, tickets, reports and webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from app.maintenance.causes import CAUSES

__all__ = [
    "Cause",
    "OutageCreate",
    "OutageRead",
    "CrewCreate",
    "CrewUpdate",
    "CrewRead",
    "TicketEventRead",
    "TicketRead",
    "TicketResolve",
    "TicketReopen",
    "TicketComment",
    "TownCoverage",
    "CoverageReport",
    "MaintenanceReport",
    "CoveragePeriod",
    "CoverageHistory",
    "WebhookCreate",
    "WebhookRead",
    "DeliveryRead",
    "WEBHOOK_EVENTS",
]

Cause = Literal["power_cut", "hardware", "amplifier", "network", "vandalism", "offline", "other",
                "power_cut_by_resident"]
assert set(Cause.__args__) == set(CAUSES)  # type: ignore[attr-defined]

WEBHOOK_EVENTS = ("ticket.opened", "ticket.overdue", "ticket.closed", "broadcast.finished")
WebhookEvent = Literal["ticket.opened", "ticket.overdue", "ticket.closed", "broadcast.finished"]
Code = Field(min_length=1, max_length=64)


class OutageCreate(BaseModel):
    """A person reports a speaker out of order (e.g. an amplifier the terminal cannot see)."""

    model_config = ConfigDict(extra="forbid")

    speaker: str = Field(min_length=1, max_length=40)
    cause: Cause
    note: str | None = Field(default=None, max_length=2000)


class OutageRead(BaseModel):
    """An outage, detected or reported, with the ticket it belongs to (if any yet)."""

    id: str
    speaker: str
    village: str
    source: Literal["detected", "reported"]
    cause: str
    note: str | None
    reported_by: str | None
    last_heard_at: datetime | None
    opened_at: datetime
    closed_at: datetime | None
    ticket: str | None


class CrewCreate(BaseModel):
    """A repair crew: the towns it serves (codes) and its members (usernames)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    towns: list[str] = Field(default_factory=list, max_length=500)
    members: list[str] = Field(default_factory=list, max_length=500)

    @field_validator("towns", "members")
    @classmethod
    def _no_blank(cls, values: list[str]) -> list[str]:
        if any(not v or len(v) > 64 for v in values):
            raise ValueError("each entry must be 1–64 characters")
        return list(dict.fromkeys(values))


class CrewUpdate(BaseModel):
    """Rename a crew or replace its towns or members (fields left out stay as they are)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=120)
    towns: list[str] | None = Field(default=None, max_length=500)
    members: list[str] | None = Field(default=None, max_length=500)

    @field_validator("towns", "members")
    @classmethod
    def _no_blank(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        if any(not v or len(v) > 64 for v in values):
            raise ValueError("each entry must be 1–64 characters")
        return list(dict.fromkeys(values))


class CrewRead(BaseModel):
    """A crew as clients see it."""

    id: str
    name: str
    towns: list[str]
    members: list[str]
    created_at: datetime


class TicketEventRead(BaseModel):
    """One step of a ticket's timeline."""

    kind: str
    at: datetime
    actor: str
    detail: dict[str, Any] | None = None


class TicketRead(BaseModel):
    """A maintenance ticket (``speaker`` and ``crew`` are ids, ``village`` and ``town`` codes)."""

    id: str
    speaker: str
    village: str
    town: str | None
    crew: str | None
    status: Literal["open", "claimed", "resolved", "closed"]
    priority: Literal["high", "normal"]
    cause: str
    opened_at: datetime
    due_at: datetime
    overdue: bool
    claimed_by: str | None
    claimed_at: datetime | None
    resolved_at: datetime | None
    resolution: str | None
    closed_at: datetime | None
    events: list[TicketEventRead]


class TicketResolve(BaseModel):
    """What was wrong and what the crew did about it."""

    model_config = ConfigDict(extra="forbid")

    cause: Cause
    resolution: str = Field(min_length=1, max_length=2000)


class TicketReopen(BaseModel):
    """Why a resolved or closed ticket is not done."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)


class TicketComment(BaseModel):
    """A note on a ticket's timeline."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=4000)


class TownCoverage(BaseModel):
    """Who can hear a broadcast in one town."""

    code: str
    name: str
    villages: int
    villages_silent: int
    speakers: int
    speakers_online: int


class CoverageReport(BaseModel):
    """Coverage per town inside the caller's area."""

    items: list[TownCoverage]
    total: int


class MaintenanceReport(BaseModel):
    """Tickets over a period: how many, why, and how long repairs took."""

    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    opened: int
    closed: int
    by_cause: dict[str, int]
    mttr_median_hours: float | None
    mttr_mean_hours: float | None
    open_overdue: int


class CoveragePeriod(BaseModel):
    """Coverage of one town over one hour or day: the snapshot's counts, averaged over time.

    ``speakers`` and ``villages`` are the mean numbers registered during the period;
    ``speakers_online`` and ``villages_silent`` the mean numbers online and silent;
    ``online_rate`` the share of speaker time online and ``silent_rate`` the share of
    village time with no speaker online (null when there was nothing to measure).
    """

    model_config = ConfigDict(populate_by_name=True)

    town: str
    name: str
    from_: datetime = Field(alias="from", serialization_alias="from")
    to: datetime
    villages: float
    villages_silent: float
    silent_rate: float | None
    speakers: float
    speakers_online: float
    online_rate: float | None


class CoverageHistory(BaseModel):
    """Coverage per town and period, ordered by town then time."""

    items: list[CoveragePeriod]
    total: int


MAX_URL = 2000  # the column's length


def _stored_length(url: AnyHttpUrl) -> AnyHttpUrl:
    # Measured as stored: percent-encoding and punycode can make it much longer than sent.
    if len(str(url)) > MAX_URL:
        raise ValueError(f"the URL is longer than {MAX_URL} characters once encoded")
    return url


class WebhookCreate(BaseModel):
    """A subscription to some of the webhook events."""

    model_config = ConfigDict(extra="forbid")

    url: Annotated[AnyHttpUrl, AfterValidator(_stored_length)]
    events: list[WebhookEvent] = Field(min_length=1)
    secret: str = Field(min_length=1, max_length=200)

    @field_validator("events")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(values))


class WebhookRead(BaseModel):
    """A subscription (its secret is never shown again)."""

    id: str
    url: str
    events: list[str]
    created_by: str
    created_at: datetime


class DeliveryRead(BaseModel):
    """One event sent (or being sent) to a subscriber."""

    id: str
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    body: dict[str, Any]
