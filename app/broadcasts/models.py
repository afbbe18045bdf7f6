"""Urgent broadcasts (one row each, its orders in ``play_orders``) and idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["Broadcast", "IdempotencyKey", "BROADCAST_STATUSES", "MODES", "CONTENT_KINDS"]

# active → finished (every village ended before the expiry) | cancelled | expired
BROADCAST_STATUSES = ("active", "finished", "cancelled", "expired")
MODES = ("actual", "exercise", "test")
# text: synthesised from ``text``; announcement: an approved announcement's audio; media: a
# stored file; cap_audio: a recording carried inline in a CAP alert (cap text is ``text``).
CONTENT_KINDS = ("text", "announcement", "media", "cap_audio")


class Broadcast(Base):
    """An urgent broadcast: what it says, to which villages, from when until when, and its fate."""

    __tablename__ = "broadcasts"
    __table_args__ = (
        # A CAP message is identified by (sender, identifier, sent): the same one twice is one
        # broadcast, and later Updates and Cancels find it by these three.
        UniqueConstraint("cap_sender", "cap_identifier", "cap_sent", name="uq_broadcasts_cap"),
        Index("ix_broadcasts_status_expires", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("brd"))
    title: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10), default="actual")
    status: Mapped[str] = mapped_column(String(10), default="active")
    targets: Mapped[list[str]] = mapped_column(JSONDoc)
    villages: Mapped[list[str]] = mapped_column(JSONDoc)
    # The deepest area holding every target: who may see the broadcast besides its creator.
    area_path: Mapped[str] = mapped_column(String(400), index=True)
    content_kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    announcement_id: Mapped[str | None] = mapped_column(String(40))
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    loop: Mapped[int] = mapped_column(Integer, default=1)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(160))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[str | None] = mapped_column(String(160))
    replaced_by: Mapped[str | None] = mapped_column(String(40))
    cap_sender: Mapped[str | None] = mapped_column(String(200))
    cap_identifier: Mapped[str | None] = mapped_column(String(200))
    cap_sent: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cap_msg_type: Mapped[str | None] = mapped_column(String(10))
    # What the service noticed and did not refuse the alert for (a digest that does not match
    # the inline audio, a shortened text, an info left unplayed…), shown with the broadcast.
    warnings: Mapped[list[str]] = mapped_column(
        JSONDoc, default=list, server_default=sql_text("'[]'")
    )


class IdempotencyKey(Base):
    """An ``Idempotency-Key`` a principal used: the body it came with and the broadcast it made."""

    __tablename__ = "broadcast_idempotency_keys"
    __table_args__ = (
        UniqueConstraint("principal", "key", name="uq_broadcast_idempotency_keys_principal"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(160))
    key: Mapped[str] = mapped_column(String(200))
    body_sha256: Mapped[str] = mapped_column(String(64))
    broadcast_id: Mapped[str] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
