"""Play receipts: what each terminal reported doing with each order (the as-run log's source)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

__all__ = ["PlayReceipt", "RECEIPT_EVENTS"]

RECEIPT_EVENTS = ("started", "finished", "failed", "preempted")


class PlayReceipt(Base):
    """One event of one order on one terminal; the same event twice is the same receipt."""

    __tablename__ = "play_receipts"
    __table_args__ = (
        UniqueConstraint("order_id", "speaker_id", "event",
                         name="uq_play_receipts_order_speaker_event"),
        Index("ix_play_receipts_speaker_at", "speaker_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(
        ForeignKey("play_orders.id", ondelete="CASCADE"), index=True
    )
    speaker_id: Mapped[str] = mapped_column(ForeignKey("speakers.id", ondelete="CASCADE"))
    village_code: Mapped[str] = mapped_column(String(64), index=True)
    event: Mapped[str] = mapped_column(String(12))
    at: Mapped[datetime] = mapped_column(UTCDateTime())  # when it happened, terminal's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    detail: Mapped[str | None] = mapped_column(String(500))
