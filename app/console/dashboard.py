"""What the dashboard shows: on-air broadcasts, today's schedule, coverage and tickets."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.announcements import service as announcements
from app.announcements.models import Revision
from app.auth.permissions import Principal
from app.broadcasts import service as broadcasts
from app.config import get_settings
from app.db import utcnow
from app.maintenance import service as maintenance
from app.maintenance.reports import coverage
from app.schedules import service as schedules

__all__ = ["dashboard_data"]


def _today(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(get_settings().tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


def _todays_schedule(session: Session, principal: Principal, now: datetime) -> list[dict[str, Any]]:
    start, end = _today(now)
    rows = []
    for schedule in session.scalars(schedules.list_schedules(session=session, principal=principal)
                                    .limit(200)):
        if not schedule.enabled:
            continue
        for begin, finish in schedules.schedule_occurrences(session=session, schedule=schedule,
                                                            start=start, end=end):
            rows.append({"schedule": schedule, "start_at": begin, "end_at": finish,
                         "past": finish <= now})
    return sorted(rows, key=lambda r: r["start_at"])[:60]


def _ticket_counts(session: Session, principal: Principal, now: datetime) -> dict[str, int]:
    def total(**filters: Any) -> int:
        stmt = maintenance.list_tickets(session=session, principal=principal, now=now, **filters)
        return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0

    open_now = sum(total(status=s) for s in ("open", "claimed", "resolved"))
    return {"open": open_now, "overdue": total(overdue=True)}


def _awaiting_review(session: Session, principal: Principal) -> dict[str, Any]:
    """Revisions waiting for this reviewer: in their area, written by someone else."""
    stmt = (announcements.list_announcements(session=session, principal=principal,
                                             status="pending_review")
            .where(Revision.author_id != principal.id))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = [announcements.to_read(session, a) for a in session.scalars(stmt.limit(20))]
    return {"items": rows, "total": total}


def dashboard_data(*, session: Session, principal: Principal) -> dict[str, Any]:
    """Everything the dashboard template needs, inside the user's area."""
    now = utcnow()
    data: dict[str, Any] = {"active": [], "today": [], "towns": [], "tickets": None,
                            "review": None}
    if principal.can("content:review"):
        data["review"] = _awaiting_review(session, principal)
    if principal.can("broadcasts:read"):
        active = list(session.scalars(broadcasts.list_broadcasts(principal=principal, active=True)
                                      .limit(20)))
        data["active"] = broadcasts.describe(session, active)
    if principal.can("schedules:read"):
        data["today"] = _todays_schedule(session, principal, now)
    if principal.can("reports:read") or principal.can("speakers:read"):
        data["towns"] = coverage(session=session, principal=principal, now=now)
    if principal.can("tickets:read"):
        data["tickets"] = _ticket_counts(session, principal, now)
    return data
