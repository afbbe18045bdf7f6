"""Shapes of the terminal protocol (``/terminal/v1``) and of the as-run log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.inputs import SaneTime

__all__ = [
    "MediaItem",
    "ProgramOrder",
    "ProgramRead",
    "ReceiptCreate",
    "ReceiptsAck",
    "PlaylogEntry",
    "MAX_RECEIPTS",
]

MAX_RECEIPTS = 500


class MediaItem(BaseModel):
    """One file of an order: where to fetch it, its hash (verify it!) and its length."""

    url: str
    sha256: str
    duration_ms: int
    title: str | None = None


class ProgramOrder(BaseModel):
    """A play order as terminals receive it."""

    id: str
    kind: Literal["routine", "urgent"]
    mode: Literal["actual", "exercise", "test"]
    broadcast: str | None = Field(None, description="urgent orders only: the broadcast id")
    schedule: str | None = Field(None, description="routine orders only: the schedule id")
    level: int | None = Field(None, description="urgent level 1–4 (I–IV); null for routine")
    priority: int = Field(description="urgent level I → 4 … IV → 1, routine 0; higher cuts lower")
    start_at: datetime
    not_after: datetime = Field(description="nothing of this order may sound at or after it")
    loop: int = Field(description="how many times the media list plays back to back")
    volume: int | None
    title: str | None
    issued_at: datetime
    duration_ms: int = Field(description="one loop of the media")
    media: list[MediaItem]


class ProgramRead(BaseModel):
    """A terminal's program: its village's version, the server's clock and the orders by start."""

    version: int
    server_time: datetime
    orders: list[ProgramOrder]


class ReceiptCreate(BaseModel):
    """What a terminal did with an order, and when (its own clock)."""

    model_config = ConfigDict(extra="ignore")

    order: str = Field(min_length=1, max_length=40)
    event: Literal["started", "finished", "failed", "preempted"]
    at: SaneTime
    detail: str | None = Field(default=None, max_length=500)


class ReceiptsAck(BaseModel):
    """How many receipts were new; sending the same receipt again is harmless."""

    accepted: int
    duplicates: int


class PlaylogEntry(BaseModel):
    """One line of the as-run log: one order on one speaker, or an order nobody played."""

    order: str
    village: str
    speaker: str | None
    serial: str | None
    kind: str
    mode: str
    title: str | None
    schedule: str | None
    broadcast: str | None
    scheduled_at: datetime
    not_after: datetime
    started_at: datetime | None
    ended_at: datetime | None
    result: Literal["played", "preempted", "failed", "missed", "started"]
    detail: str | None
