"""Schedules (a playlist's daily loop over some villages), their targets and pending re-issues."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["Schedule", "ScheduleTarget", "PendingReissue"]


class Schedule(Base):
    """A playlist played ``loop`` times at local times of day (or every N minutes) in villages.

    ``area_code`` is the nearest area containing every target (for listing and the audit
    log). ``issued_through`` is how far ahead the orders of this schedule have been issued:
    the horizon job only looks at what lies beyond it.
    """

    __tablename__ = "schedules"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("sch"))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # No foreign key: playlists live in another part's migration; PLAYLIST_USAGE_CHECKS guard it.
    playlist_id: Mapped[str] = mapped_column(String(40), index=True)
    area_code: Mapped[str | None] = mapped_column(ForeignKey("areas.code", ondelete="RESTRICT"))
    times: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    every_minutes: Mapped[int | None] = mapped_column(Integer)
    window: Mapped[list[str] | None] = mapped_column(JSONDoc)
    days: Mapped[list[str]] = mapped_column(JSONDoc)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    loop: Mapped[int] = mapped_column(Integer, default=1)
    volume: Mapped[int | None] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The village calendar (None: not used): ISO dates to skip and to add, lunar days of the
    # month (market days), day types to follow and to skip, and volumes of single slots
    # ("HH:MM" → 0–100) that override ``volume``.
    skip_dates: Mapped[list[str] | None] = mapped_column(JSONDoc)
    extra_dates: Mapped[list[str] | None] = mapped_column(JSONDoc)
    lunar_days: Mapped[list[int] | None] = mapped_column(JSONDoc)
    day_types: Mapped[list[str] | None] = mapped_column(JSONDoc)
    skip_day_types: Mapped[list[str] | None] = mapped_column(JSONDoc)
    slot_volumes: Mapped[dict[str, int] | None] = mapped_column(JSONDoc)
    issued_through: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    targets: Mapped[list[ScheduleTarget]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="ScheduleTarget.position"
    )

    @property
    def target_codes(self) -> list[str]:
        """The target area codes in the order they were given."""
        return [t.area_code for t in self.targets]


class ScheduleTarget(Base):
    """One area a schedule plays in: a village, or a town or district (all its villages)."""

    __tablename__ = "schedule_targets"

    schedule_id: Mapped[str] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), primary_key=True
    )
    area_code: Mapped[str] = mapped_column(
        ForeignKey("areas.code", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)


class PendingReissue(Base):
    """A schedule whose future orders are being brought in line with a change, in chunks.

    Written in the transaction of the change, deleted by the pass that completes it. No
    foreign key: a deleted schedule's orders are withdrawn by such a pass too. ``token`` names
    the change (a newer one supersedes a pass still running for an older one); ``seen_at`` is
    when a pass last wrote a chunk (a pass silent for long is resumed by the lease holder).
    """

    __tablename__ = "pending_reissues"

    schedule_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    token: Mapped[str] = mapped_column(String(40))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
