"""Play orders (what a village's terminals must play, and when) and each village's
program version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["PlayOrder", "VillageProgram", "ORDER_STATES", "ROUTINE_PRIORITY"]

# issued: in the program; withdrawn: removed by a schedule change before it started;
# cancelled / expired: an urgent order stopped by its broadcast; played / missed / failed /
# preempted: how it ended, from receipts (or their absence by not_after).
ORDER_STATES = ("issued", "withdrawn", "cancelled", "expired", "played", "missed", "failed",
                "preempted")
ROUTINE_PRIORITY = 0  # urgent level I..IV → priority 4..1


class PlayOrder(Base):
    """One occurrence of a schedule (or one urgent broadcast) for one village."""

    __tablename__ = "play_orders"
    __table_args__ = (
        # The identity of a routine order: issuing it twice is a no-op (restarts, two processes).
        UniqueConstraint("schedule_id", "village_code", "start_at",
                         name="uq_play_orders_occurrence"),
        UniqueConstraint("broadcast_id", "village_code", name="uq_play_orders_broadcast_village"),
        Index("ix_play_orders_village_window", "village_code", "state", "start_at"),
        Index("ix_play_orders_not_after", "state", "not_after"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ord"))
    kind: Mapped[str] = mapped_column(String(8))  # routine | urgent
    village_code: Mapped[str] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"))
    schedule_id: Mapped[str | None] = mapped_column(String(40), index=True)
    broadcast_id: Mapped[str | None] = mapped_column(String(40), index=True)
    playlist_id: Mapped[str | None] = mapped_column(String(40))
    start_at: Mapped[datetime] = mapped_column(UTCDateTime())
    not_after: Mapped[datetime] = mapped_column(UTCDateTime())
    loop: Mapped[int] = mapped_column(Integer, default=1)
    volume: Mapped[int | None] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(10), default="actual")
    level: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=ROUTINE_PRIORITY)
    title: Mapped[str | None] = mapped_column(String(200))
    media: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)  # one loop of the media
    state: Mapped[str] = mapped_column(String(12), default="issued")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    first_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class VillageProgram(Base):
    """A village's program version: bumped in the same transaction as any change to its orders."""

    __tablename__ = "village_programs"

    village_code: Mapped[str] = mapped_column(
        ForeignKey("areas.code", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
