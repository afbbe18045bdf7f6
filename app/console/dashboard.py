"""What the dashboard shows: on-air broadcasts, today's schedule, coverage and tickets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.auth.permissions import Principal

__all__ = ["dashboard_data"]


def _area_counts(session: Session, principal: Principal) -> dict[str, int]:
    stmt = select(Area.level, func.count()).group_by(Area.level)
    if principal.area_path is not None:
        stmt = stmt.where((Area.path == principal.area_path)
                          | Area.path.like(principal.area_path + "/%"))
    return {level: n for level, n in session.execute(stmt)}


def dashboard_data(*, session: Session, principal: Principal) -> dict[str, Any]:
    """Everything the dashboard template needs, inside the user's area."""
    return {"areas": _area_counts(session, principal)}
