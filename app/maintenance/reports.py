"""Reports: who can hear a broadcast (coverage per town) and how repairs go (maintenance).

Both are computed with a handful of aggregate queries, whatever the size of the district,
and rendered as JSON or CSV. ``village_health`` is the per-village count other parts use
(an urgent broadcast's ``unreachable`` villages).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypedDict

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.auth.permissions import Principal
from app.auth.scope import within
from app.csvout import csv_text
from app.db import utcnow
from app.maintenance.causes import CAUSES
from app.maintenance.models import OPEN_STATUSES, Ticket
from app.maintenance.schemas import MaintenanceReport, TownCoverage
from app.speakers.health import ONLINE, heartbeat_timeout, status_clause
from app.speakers.models import Speaker

__all__ = [
    "VillageCounts",
    "village_health",
    "coverage",
    "maintenance_report",
    "coverage_csv",
    "maintenance_csv",
    "DEFAULT_PERIOD",
]

DEFAULT_PERIOD = timedelta(days=30)


class VillageCounts(TypedDict):
    """Registered speakers of a village and how many of them are online."""

    total: int
    online: int


def village_health(
    session: Session, village_codes: Iterable[str], *, now: datetime | None = None
) -> dict[str, VillageCounts]:
    """``{code: {total, online}}`` for each village asked (zeros when it has no speaker)."""
    codes = list(dict.fromkeys(village_codes))
    counts: dict[str, VillageCounts] = {c: {"total": 0, "online": 0} for c in codes}
    online = case((status_clause(ONLINE, now or utcnow(), heartbeat_timeout()), 1), else_=0)
    for chunk in _chunks(codes, 900):  # keep under SQLite's bound-parameter limit
        for code, total, heard in session.execute(
            select(Speaker.village_code, func.count(), func.coalesce(func.sum(online), 0))
            .where(Speaker.retired_at.is_(None), Speaker.village_code.in_(chunk))
            .group_by(Speaker.village_code)
        ):
            counts[code] = {"total": int(total), "online": int(heard)}
    return counts


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------- coverage


def _towns_in_scope(session: Session, principal: Principal) -> list[Area]:
    """Towns inside the principal's area, and the town of a principal scoped to a village."""
    stmt = select(Area).where(Area.level == "town")
    if principal.area_path is not None:
        own = session.scalar(select(Area).where(Area.path == principal.area_path))
        inside = within(Area.path, principal.area_path)
        if own is not None and own.level == "village" and own.parent_code:
            inside = or_(inside, Area.code == own.parent_code)
        stmt = stmt.where(inside)
    return list(session.scalars(stmt.order_by(Area.code)))


def _speaker_counts(session: Session, principal: Principal,
                    now: datetime) -> dict[str, tuple[int, int]]:
    """``{village: (speakers, online)}`` for villages in scope that have speakers."""
    online = case((status_clause(ONLINE, now, heartbeat_timeout()), 1), else_=0)
    stmt = (select(Speaker.village_code, func.count(), func.coalesce(func.sum(online), 0))
            .join(Area, Area.code == Speaker.village_code)
            .where(Speaker.retired_at.is_(None)).group_by(Speaker.village_code))
    if principal.area_path is not None:
        stmt = stmt.where(within(Area.path, principal.area_path))
    return {code: (int(n), int(up)) for code, n, up in session.execute(stmt)}


def coverage(*, session: Session, principal: Principal,
             now: datetime | None = None) -> list[TownCoverage]:
    """One row per town: villages, silent villages (none of its speakers online), speakers."""
    now = now or utcnow()
    towns = _towns_in_scope(session, principal)
    villages = select(Area.code, Area.parent_code).where(
        Area.level == "village", Area.parent_code.in_([t.code for t in towns] or [""]))
    if principal.area_path is not None:
        villages = villages.where(within(Area.path, principal.area_path))
    speakers = _speaker_counts(session, principal, now)
    tally = {t.code: [0, 0, 0, 0] for t in towns}
    for code, town in session.execute(villages):
        total, online = speakers.get(code, (0, 0))
        row = tally[str(town)]
        row[0] += 1
        row[1] += online == 0
        row[2] += total
        row[3] += online
    return [TownCoverage(code=t.code, name=t.name, villages=tally[t.code][0],
                         villages_silent=tally[t.code][1], speakers=tally[t.code][2],
                         speakers_online=tally[t.code][3]) for t in towns]


# ---------------------------------------------------------------- maintenance


def _tickets_in_scope(principal: Principal) -> list[ColumnElement[bool]]:
    return [] if principal.area_path is None else [within(Ticket.area_path, principal.area_path)]


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def maintenance_report(
    *, session: Session, principal: Principal, start: datetime | None = None,
    end: datetime | None = None, now: datetime | None = None,
) -> MaintenanceReport:
    """Tickets opened and closed in ``[start, end)``, by cause, with times to repair.

    Time to repair runs from a ticket's opening to its closing (the repair proven by a
    healthy heartbeat), over the tickets closed in the period; ``open_overdue`` counts the
    tickets past due now, whatever the period.
    """
    now = now or utcnow()
    end = end or now
    start = start or end - DEFAULT_PERIOD
    scope = _tickets_in_scope(principal)
    opened_in = and_(Ticket.opened_at >= start, Ticket.opened_at < end, *scope)
    by_cause = dict.fromkeys(CAUSES, 0)
    for cause, n in session.execute(select(Ticket.cause, func.count()).where(opened_in)
                                    .group_by(Ticket.cause)):
        by_cause[cause] = by_cause.get(cause, 0) + int(n)
    repairs = [_hours(closed - opened) for opened, closed in session.execute(
        select(Ticket.opened_at, Ticket.closed_at).where(
            Ticket.closed_at >= start, Ticket.closed_at < end, *scope))
        if closed is not None]
    overdue = session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.status.in_(OPEN_STATUSES), Ticket.due_at <= now, *scope)) or 0
    # ``from`` is a Python keyword: the field is ``from_``, shown as ``from``.
    return MaintenanceReport(  # type: ignore[call-arg]
        from_=start, to=end, opened=sum(by_cause.values()), closed=len(repairs),
        by_cause=by_cause,
        mttr_median_hours=round(statistics.median(repairs), 3) if repairs else None,
        mttr_mean_hours=round(statistics.fmean(repairs), 3) if repairs else None,
        open_overdue=int(overdue),
    )


# ---------------------------------------------------------------- CSV


def coverage_csv(items: Sequence[TownCoverage]) -> str:
    """The coverage report as CSV, one line per town."""
    header = ["code", "name", "villages", "villages_silent", "speakers", "speakers_online"]
    return csv_text(header, ([getattr(item, h) for h in header] for item in items))


def maintenance_csv(report: MaintenanceReport) -> str:
    """The maintenance report as CSV: one line, one column per figure and per cause."""
    header = ["from", "to", "opened", "closed", "mttr_median_hours", "mttr_mean_hours",
              "open_overdue"] + [f"cause_{c}" for c in report.by_cause]
    values = [report.from_.isoformat(), report.to.isoformat(), report.opened, report.closed,
              "" if report.mttr_median_hours is None else report.mttr_median_hours,
              "" if report.mttr_mean_hours is None else report.mttr_mean_hours,
              report.open_overdue] + list(report.by_cause.values())
    return csv_text(header, [values])
