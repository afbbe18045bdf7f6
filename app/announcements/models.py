"""Announcements, their immutable revisions and the render queue (a table, not a thread)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.ids import new_id

__all__ = [
    "Announcement",
    "Revision",
    "RenderJob",
    "REVISION_STATUSES",
    "AUDIO_STATUSES",
    "JOB_STATES",
]

REVISION_STATUSES = ("draft", "pending_review", "approved", "rejected")
AUDIO_STATUSES = ("pending", "ready", "failed")
# queued → running → done | failed; a running job whose lease ran out is queued again.
JOB_STATES = ("queued", "running", "done", "failed")


class Announcement(Base):
    """A script owned by an area; what it says lives in its revisions."""

    __tablename__ = "announcements"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("ann"))
    area_code: Mapped[str] = mapped_column(
        ForeignKey("areas.code", ondelete="RESTRICT"), index=True
    )
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class Revision(Base):
    """One version of an announcement: its content never changes, only its review and audio."""

    __tablename__ = "announcement_revisions"
    __table_args__ = (
        UniqueConstraint("announcement_id", "number", name="uq_announcement_revisions_number"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rev"))
    announcement_id: Mapped[str] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(60))
    recording_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("media_files.sha256", ondelete="RESTRICT")
    )
    status: Mapped[str] = mapped_column(String(16), default="draft")
    author_id: Mapped[str] = mapped_column(String(40))
    author: Mapped[str] = mapped_column(String(120))  # the audit log's name of the author
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_by: Mapped[str | None] = mapped_column(String(120))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by: Mapped[str | None] = mapped_column(String(120))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reject_reason: Mapped[str | None] = mapped_column(Text)
    audio_status: Mapped[str | None] = mapped_column(String(10))
    audio_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("media_files.sha256", ondelete="RESTRICT")
    )
    audio_error: Mapped[str | None] = mapped_column(Text)


class RenderJob(Base):
    """A request to render one revision; workers in any process claim it atomically."""

    __tablename__ = "render_jobs"
    __table_args__ = (Index("ix_render_jobs_state_created", "state", "created_at"),
                      Index("ix_render_jobs_key_state", "render_key", "state"))

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("rnd"))
    revision_id: Mapped[str] = mapped_column(
        ForeignKey("announcement_revisions.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    # The claim is a lease: the worker renews it while rendering; once it runs out the job
    # is taken again (the process that held it died).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # What is rendered (script, engine and its options, renderer version): jobs with the same
    # key make the same file, so while one runs the others wait, then reuse its result.
    render_key: Mapped[str | None] = mapped_column(String(64))
    sha256: Mapped[str | None] = mapped_column(String(64))  # the file a done job made
