"""The area table: one row per district, town or village."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["Area", "AreaImport", "LEVELS", "PARENT_LEVEL"]

LEVELS = ("district", "town", "village")
PARENT_LEVEL = {"district": None, "town": "district", "village": "town"}


class Area(Base):
    """A district, town or village; ``path`` is the codes from the root joined by ``/``."""

    __tablename__ = "areas"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16), index=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("areas.code", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(400), index=True)
    # The official administrative division code, 12 digits (GB/T 2260 + township + village):
    # alerts from official feeds name areas by it.
    division_code: Mapped[str | None] = mapped_column(String(12), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    def contains(self, path: str) -> bool:
        """True when the area at ``path`` is this area or inside it."""
        return path == self.path or path.startswith(self.path + "/")


class AreaImport(Base):
    """One CSV import of areas, written a chunk at a time, and how far it got.

    ``payload`` keeps the CSV until the import is done, so that one interrupted (a stopped
    or crashed process) is resumed; ``heartbeat_at`` is when a process last wrote a chunk of
    it (None: nobody is working on it now).
    """

    __tablename__ = "area_imports"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("imp"))
    actor: Mapped[str] = mapped_column(String(120))
    scope_path: Mapped[str | None] = mapped_column(String(400))  # the importer's area
    status: Mapped[str] = mapped_column(String(16), index=True)  # running, done, failed
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[Any | None] = mapped_column(JSONDoc)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
