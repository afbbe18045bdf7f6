"""Outages, repair crews, tickets with their timeline, webhook subscriptions and their queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    and_,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id
from app.speakers.models import Speaker

__all__ = [
    "Crew",
    "CrewTown",
    "CrewMember",
    "Outage",
    "Ticket",
    "TicketEvent",
    "Webhook",
    "WebhookDelivery",
    "TICKET_STATUSES",
    "OPEN_STATUSES",
    "PRIORITIES",
    "DETECTED",
    "REPORTED",
    "outage_open_detected",
    "ticket_in_progress",
]

TICKET_STATUSES = ("open", "claimed", "resolved", "closed")
OPEN_STATUSES = ("open", "claimed")  # waiting for a repair (resolved waits for proof)
PRIORITIES = ("high", "normal")
DETECTED, REPORTED = "detected", "reported"


class Crew(Base):
    """A repair crew (镇台联动: township and broadcast-station technicians) serving towns."""

    __tablename__ = "crews"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("crw"))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class CrewTown(Base):
    """A town a crew serves; one crew per town, so a ticket has exactly one crew to go to."""

    __tablename__ = "crew_towns"

    town_code: Mapped[str] = mapped_column(
        ForeignKey("areas.code", ondelete="CASCADE"), primary_key=True
    )
    crew_id: Mapped[str] = mapped_column(ForeignKey("crews.id", ondelete="CASCADE"), index=True)


class CrewMember(Base):
    """A user who belongs to a crew (a user may belong to several)."""

    __tablename__ = "crew_members"

    crew_id: Mapped[str] = mapped_column(
        ForeignKey("crews.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Outage(Base):
    """A period a speaker could not be heard: detected from heartbeats or reported by a person."""

    __tablename__ = "outages"
    __table_args__ = (
        Index("ix_outages_speaker_open", "speaker_id", "closed_at"),
        # One open detected outage per speaker: the sweep of two leaders in a row cannot
        # open a second one for the same silence.
        Index("uq_outages_open_detected", "speaker_id", unique=True,
              sqlite_where=text("closed_at IS NULL AND source = 'detected'"),
              postgresql_where=text("closed_at IS NULL AND source = 'detected'")),
        # The sweep looks every second for open outages still waiting for a ticket; closed
        # ones (and flaps that never got one) pile up for years.
        Index("ix_outages_waiting", "opened_at",
              sqlite_where=text("closed_at IS NULL AND ticket_id IS NULL"),
              postgresql_where=text("closed_at IS NULL AND ticket_id IS NULL")),
        # Partial, so the planner never takes it for the "no ticket yet" look-up above.
        Index("ix_outages_ticket", "ticket_id", sqlite_where=text("ticket_id IS NOT NULL"),
              postgresql_where=text("ticket_id IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("out"))
    speaker_id: Mapped[str] = mapped_column(ForeignKey(Speaker.id, ondelete="CASCADE"))
    village_code: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(10))  # detected | reported
    cause: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(2000))
    reported_by: Mapped[str | None] = mapped_column(String(120))
    # For a detected outage: when the terminal was last heard (the silence began after it).
    last_heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"))


class Ticket(Base):
    """A repair job for one speaker, dispatched to the crew serving its town."""

    __tablename__ = "tickets"
    __table_args__ = (
        # Never two tickets in progress for one speaker, whichever process opens them.
        Index("uq_tickets_speaker_in_progress", "speaker_id", unique=True,
              sqlite_where=text("status <> 'closed'"),
              postgresql_where=text("status <> 'closed'")),
        Index("ix_tickets_status_due", "status", "due_at"),
        Index("ix_tickets_speaker_opened", "speaker_id", "opened_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("tkt"))
    speaker_id: Mapped[str] = mapped_column(ForeignKey(Speaker.id, ondelete="CASCADE"))
    village_code: Mapped[str] = mapped_column(String(64), index=True)
    town_code: Mapped[str | None] = mapped_column(String(64), index=True)
    area_path: Mapped[str] = mapped_column(String(400), index=True)  # the village's path
    crew_id: Mapped[str | None] = mapped_column(
        ForeignKey("crews.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(10), default="open")
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    cause: Mapped[str] = mapped_column(String(32))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolution: Mapped[str | None] = mapped_column(String(2000))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class TicketEvent(Base):
    """One step of a ticket's timeline: who did what, when."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_at", "ticket_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSONDoc)


class Webhook(Base):
    """A subscription: which events to POST to which URL, signed with which secret."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("whk"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSONDoc)
    # Kept as given: the service must compute the HMAC with it for every delivery.
    secret: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One event to one subscriber: the queue row the worker sends, and its log afterwards."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("dlv"))
    webhook_id: Mapped[str] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)  # the exact bytes signed and sent (UTF-8 JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending|delivered|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A worker that took the row holds it until then; a crashed worker's rows come back.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# Written with literal values, not bound parameters: only then can SQLite (and PostgreSQL's
# generic plans) prove a query matches a partial index above and use it.


def outage_open_detected() -> ColumnElement[bool]:
    """An open outage detected from heartbeats (the partial unique index's condition)."""
    return and_(Outage.closed_at.is_(None), Outage.source == literal_column("'detected'"))


def ticket_in_progress() -> ColumnElement[bool]:
    """A ticket not yet closed (the partial unique index's condition)."""
    return Ticket.status != literal_column("'closed'")
