"""Feed sources and the alerts seen in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["Feed", "FeedItem", "FEED_KINDS", "ITEM_STATES", "RULES", "SEVERITIES"]

FEED_KINDS = ("atom", "rss", "cap_index")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
RULES = ("relay", "hold", "ignore")
# relayed: broadcast (broadcast_id); held: waits for a reviewer; dismissed: a reviewer said no;
# ignored: its severity's rule; outside: no village of the feed's area in it; cancelled: a
# later Cancel or Update of the sender ended it; not_broadcast: System, Draft, Ack, Error;
# invalid: not a usable CAP 1.2 document; failed: relaying it failed (detail says why).
ITEM_STATES = ("relayed", "held", "dismissed", "ignored", "outside", "cancelled",
               "not_broadcast", "invalid", "failed")


class Feed(Base):
    """A source of official alerts polled by the leader: where, how often, what to do."""

    __tablename__ = "feeds"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fd"))
    name: Mapped[str] = mapped_column(String(120), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    kind: Mapped[str] = mapped_column(String(12))
    area_code: Mapped[str] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"))
    poll_seconds: Mapped[int] = mapped_column(Integer, default=300)
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=10)
    rules: Mapped[dict[str, str]] = mapped_column(JSONDoc)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    # Conditional GET: what the server said last time.
    etag: Mapped[str | None] = mapped_column(String(400))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    # Health.
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    consecutive_errors: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    item_errors: Mapped[int] = mapped_column(Integer, default=0)


class FeedItem(Base):
    """One CAP message seen in a feed, and what was done with it.

    (sender, identifier, sent) is the message's identity across every feed: the same alert in
    two feeds, or in every poll of one, is one item.
    """

    __tablename__ = "feed_items"
    __table_args__ = (
        UniqueConstraint("cap_sender", "cap_identifier", "cap_sent", name="uq_feed_items_cap"),
        Index("ix_feed_items_feed_state", "feed_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("fdi"))
    feed_id: Mapped[str] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    # How the feed names the entry (link or id, and its update time): an entry seen before is
    # not fetched again.
    entry_key: Mapped[str] = mapped_column(String(600), index=True)
    # None for a document that could not be read (state ``invalid``).
    cap_sender: Mapped[str | None] = mapped_column(String(200))
    cap_identifier: Mapped[str | None] = mapped_column(String(200))
    cap_sent: Mapped[datetime | None] = mapped_column(UTCDateTime())
    msg_type: Mapped[str | None] = mapped_column(String(10))
    status: Mapped[str | None] = mapped_column(String(10))  # CAP status: Actual, Exercise, …
    severity: Mapped[str | None] = mapped_column(String(10))
    event: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(400))
    language: Mapped[str | None] = mapped_column(String(20))
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime())
    villages: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    state: Mapped[str] = mapped_column(String(14))
    detail: Mapped[str | None] = mapped_column(String(1000))
    # The CAP document, kept while a reviewer may still relay it.
    document: Mapped[str | None] = mapped_column(Text)
    broadcast_id: Mapped[str | None] = mapped_column(String(40), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(160))

    def as_summary(self) -> dict[str, Any]:
        """What the audit log keeps of an item."""
        return {"feed": self.feed_id, "identifier": self.cap_identifier,
                "sender": self.cap_sender, "severity": self.severity, "state": self.state,
                "broadcast": self.broadcast_id}
