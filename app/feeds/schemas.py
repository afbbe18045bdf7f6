"""Request and response shapes of feeds and their items."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["FeedCreate", "FeedUpdate", "FeedRead", "FeedHealth", "FeedItemRead", "PollRead",
           "DismissBody", "DEFAULT_RULES", "Rule", "Kind"]

Kind = Literal["atom", "rss", "cap_index"]
Rule = Literal["relay", "hold", "ignore"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
# Red and orange warnings go out at once; yellow waits for a person; blue and unknown too.
DEFAULT_RULES: dict[str, str] = {"Extreme": "relay", "Severe": "relay", "Moderate": "hold",
                                 "Minor": "hold", "Unknown": "hold"}


def _http_url(value: str) -> str:
    value = value.strip()
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class _FeedFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, max_length=2000)
    kind: Kind | None = None
    area: str | None = Field(default=None, max_length=64,
                             description="the area its alerts may reach (an area code)")
    poll_seconds: int | None = Field(default=None, ge=30, le=86400)
    timeout_seconds: int | None = Field(default=None, ge=1, le=120)
    rules: dict[Severity, Rule] | None = Field(
        default=None, description="per CAP severity: relay at once, hold for review, ignore "
        "(missing severities keep their default)",
        examples=[{"Extreme": "relay", "Severe": "relay", "Moderate": "hold",
                   "Minor": "ignore"}])
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return _http_url(value) if value is not None else None


class FeedCreate(_FeedFields):
    """A new feed source."""

    name: str = Field(min_length=1, max_length=120)
    url: str = Field(max_length=2000)  # type: ignore[assignment]
    kind: Kind  # type: ignore[assignment]
    area: str = Field(max_length=64)  # type: ignore[assignment]


class FeedUpdate(_FeedFields):
    """Changes to a feed."""

    name: str | None = Field(default=None, min_length=1, max_length=120)


class FeedHealth(BaseModel):
    """How the feed's polling goes."""

    last_polled_at: datetime | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_errors: int
    errors_total: int
    item_errors_total: int
    ok: bool = Field(description="polled successfully at its last try")


class FeedRead(BaseModel):
    """A feed source, its rules and its health."""

    id: str
    name: str
    url: str
    kind: Kind
    area: str
    poll_seconds: int
    timeout_seconds: int
    rules: dict[str, str]
    enabled: bool
    created_by: str
    created_at: datetime
    health: FeedHealth
    held: int = Field(description="alerts waiting for a reviewer")


class FeedItemRead(BaseModel):
    """An alert seen in a feed and what became of it."""

    id: str
    feed: str
    feed_name: str | None
    identifier: str | None
    sender: str | None
    sent: datetime | None
    msg_type: str | None
    status: str | None
    severity: str | None
    event: str | None
    title: str | None
    language: str | None
    expires: datetime | None
    villages: list[str]
    state: str
    detail: str | None
    broadcast: str | None
    received_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class PollRead(BaseModel):
    """What one poll of a feed did."""

    feed: str
    ok: bool
    not_modified: bool = False
    entries: int = 0
    new: int = 0
    outcomes: dict[str, int] = Field(default_factory=dict)
    error: str | None = None


class DismissBody(BaseModel):
    """Why a held alert is not relayed."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)
