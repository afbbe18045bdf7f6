"""The area table: one row per district, town or village."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow

__all__ = ["Area", "LEVELS", "PARENT_LEVEL"]

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
