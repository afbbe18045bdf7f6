"""Playlists and their items (one row per item, so "which playlists use this" is a query)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["Playlist", "PlaylistItem", "CHIMES"]

CHIMES = ("default",)


class Playlist(Base):
    """A named sequence of items for an area, optionally framed by the attention chime."""

    __tablename__ = "playlists"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("pl"))
    name: Mapped[str] = mapped_column(String(200))
    area_code: Mapped[str] = mapped_column(
        ForeignKey("areas.code", ondelete="RESTRICT"), index=True
    )
    chime: Mapped[str | None] = mapped_column(String(20))
    gap_ms: Mapped[int] = mapped_column(Integer, default=800)
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    items: Mapped[list[PlaylistItem]] = relationship(
        order_by="PlaylistItem.position", cascade="all, delete-orphan", lazy="selectin"
    )


class PlaylistItem(Base):
    """One entry of a playlist: an announcement, a stored media file or a silence."""

    __tablename__ = "playlist_items"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN announcement_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN media_sha256 IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN silence_ms IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_kind",
        ),
    )

    playlist_id: Mapped[str] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    announcement_id: Mapped[str | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="RESTRICT"), index=True
    )
    media_sha256: Mapped[str | None] = mapped_column(
        ForeignKey("media_files.sha256", ondelete="RESTRICT")
    )
    silence_ms: Mapped[int | None] = mapped_column(Integer)

    def as_dict(self) -> dict[str, str | int]:
        """The item as clients write it: ``{announcement}``, ``{media}`` or ``{silence_ms}``."""
        if self.announcement_id is not None:
            return {"announcement": self.announcement_id}
        if self.media_sha256 is not None:
            return {"media": self.media_sha256}
        return {"silence_ms": int(self.silence_ms or 0)}
