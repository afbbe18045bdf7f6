"""Day types and the dates assigned to them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow

__all__ = ["DayType", "DayTypeDate"]


class DayType(Base):
    """A named kind of day (like a school bell system's day types): 春节, 农忙, 考试日 …"""

    __tablename__ = "day_types"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    dates: Mapped[list[DayTypeDate]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="DayTypeDate.day"
    )


class DayTypeDate(Base):
    """One local date assigned a day type (a date may carry several types)."""

    __tablename__ = "day_type_dates"

    day_type: Mapped[str] = mapped_column(
        ForeignKey("day_types.name", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
