"""The audit log table (kept forever, never pruned)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow
from app.ids import new_id

__all__ = ["AuditEntry"]


class AuditEntry(Base):
    """One change made by a person, a key, a terminal or the system."""

    __tablename__ = "audit_log"

    id: Mapped[str] = mapped_column(String(40), primary_key=True, default=lambda: new_id("aud"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(120), index=True)
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(40), index=True)
    entity_id: Mapped[str] = mapped_column(String(120), index=True)
    area_path: Mapped[str | None] = mapped_column(String(400), index=True)
    before: Mapped[Any | None] = mapped_column(JSONDoc)
    after: Mapped[Any | None] = mapped_column(JSONDoc)
