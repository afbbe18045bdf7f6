"""The pronunciation lexicon: ``word → pinyin`` entries attached to an area of the tree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["Pronunciation"]


class Pronunciation(Base):
    """How ``word`` is read in ``area`` and every area below it (the nearest entry wins)."""

    __tablename__ = "pronunciations"
    __table_args__ = (UniqueConstraint("area_code", "word", name="uq_pronunciations_area_word"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("prn"))
    area_code: Mapped[str] = mapped_column(
        ForeignKey("areas.code", ondelete="RESTRICT"), index=True
    )
    word: Mapped[str] = mapped_column(String(20), index=True)
    pinyin: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
