"""Speaker rows (one per terminal, with its latest heartbeat) and sampled heartbeat history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["Speaker", "SpeakerHeartbeat", "POWER_STATES", "REPORTED_STATES"]

POWER_STATES = ("mains", "battery", "off")
REPORTED_STATES = ("ok", "fault")


class Speaker(Base):
    """A terminal in a village: its token (hashed), flags and what it last said about itself."""

    __tablename__ = "speakers"
    __table_args__ = (Index("ix_speakers_health_heard", "health", "last_heard_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("spk"))
    serial: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    location: Mapped[str | None] = mapped_column(String(200))  # where it hangs, in words
    village_code: Mapped[str] = mapped_column(
        ForeignKey("areas.code", ondelete="RESTRICT"), index=True
    )
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    # SHA-256 of the current cxt_ token; None once retired (the token stops with it).
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_prefix: Mapped[str | None] = mapped_column(String(12))
    token_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Latest heartbeat: heard_at is when the server received it, reported_at when the terminal
    # measured it (a queued heartbeat arrives late and must not overwrite a newer one).
    last_heard_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[str | None] = mapped_column(String(8))  # ok | fault, as reported
    last_power: Mapped[str | None] = mapped_column(String(8))
    last_fault: Mapped[str | None] = mapped_column(String(200))
    last_volume: Mapped[int | None] = mapped_column(Integer)
    last_playing: Mapped[str | None] = mapped_column(String(64))
    # The health last announced with a speaker.health event (transitions are found against it).
    health: Mapped[str] = mapped_column(String(12), default="offline")
    # When it is powered by design: [["06:30", "08:00"], …] local windows, or "schedule" (its
    # village's play orders); None: always. Silence outside is no outage.
    operating_hours: Mapped[list[list[str]] | str | None] = mapped_column(JSONDoc)
    # Until when the sweep need not look at its silence again (outside its operating hours).
    silence_expected_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SpeakerHeartbeat(Base):
    """A heartbeat kept for history: every change of status, power or fault, and a sample."""

    __tablename__ = "speaker_heartbeats"
    __table_args__ = (Index("ix_speaker_heartbeats_speaker_at", "speaker_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    speaker_id: Mapped[str] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(8))
    power: Mapped[str] = mapped_column(String(8))
    fault: Mapped[str | None] = mapped_column(String(200))
    volume: Mapped[int | None] = mapped_column(Integer)
    playing: Mapped[str | None] = mapped_column(String(64))
