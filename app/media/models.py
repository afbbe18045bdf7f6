"""The media table: one row per stored audio file, named by the SHA-256 of its content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

__all__ = ["MediaFile", "MEDIA_KINDS"]

# speech: a rendered script; recording: an uploaded voice, transcoded; chime / silence:
# generated playlist parts.
MEDIA_KINDS = ("speech", "recording", "chime", "silence")


class MediaFile(Base):
    """A complete, immutable file in the media store (the row is written after the file)."""

    __tablename__ = "media_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # A stable name for generated parts ("silence:800", "chime:default:open") so they are
    # made once and found again; None for speech and recordings.
    label: Mapped[str | None] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(40), default="audio/mpeg")
    size_bytes: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    loudness_lufs: Mapped[float | None] = mapped_column(Float)
    title: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def url(self) -> str:
        """The open, relative URL that serves this file."""
        return f"/media/{self.sha256}"
