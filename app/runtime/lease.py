"""The scheduler lease: one row per lease name saying which process runs the jobs, until when.

Taking or renewing it is one conditional UPDATE (``WHERE holder = me OR expires_at <= now``),
or, the very first time, an INSERT that does nothing if the row appeared meanwhile. On
PostgreSQL a second UPDATE of the same row waits for the first to commit and then re-checks
its WHERE against the new row; on SQLite writers are serialised. Either way, two processes
never both see their statement succeed for an unexpired lease.

Times come from each process's clock (``utcnow``): clocks must agree to well within the lease
time (NTP does).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.db import utcnow
from app.runtime.models import SchedulerLease

__all__ = ["LeaseState", "acquire_lease", "release_lease", "lease_state"]


@dataclass(frozen=True)
class LeaseState:
    """Who holds a lease and until when."""

    holder: str
    expires_at: datetime
    acquired_at: datetime


def acquire_lease(
    *, session: Session, name: str, holder: str, ttl: timedelta, now: datetime | None = None
) -> datetime | None:
    """Take or renew the lease for ``ttl``; its new expiry, or None while another holds it.

    Commits nothing itself: call it in a short transaction of its own.
    """
    now = now or utcnow()
    expires = now + ttl
    # RETURNING, not rowcount: the driver's rowcount of an INSERT … ON CONFLICT is not reliable.
    renewed = session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name,
               or_(SchedulerLease.holder == holder, SchedulerLease.expires_at <= now))
        .values(holder=holder, expires_at=expires,
                acquired_at=case((SchedulerLease.holder == holder, SchedulerLease.acquired_at),
                                 else_=now))
        .returning(SchedulerLease.name)
        .execution_options(synchronize_session=False)
    ).first()
    if renewed is not None:
        return expires
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    created = session.execute(
        insert(SchedulerLease)
        .values(name=name, holder=holder, expires_at=expires, acquired_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
        .returning(SchedulerLease.name)
    ).first()
    return expires if created is not None else None


def release_lease(*, session: Session, name: str, holder: str, now: datetime | None = None) -> bool:
    """Give the lease up (if held) so another process can take it at once."""
    released = session.execute(
        update(SchedulerLease)
        .where(and_(SchedulerLease.name == name, SchedulerLease.holder == holder))
        .values(expires_at=now or utcnow())
        .returning(SchedulerLease.name)
        .execution_options(synchronize_session=False)
    ).first()
    return released is not None


def lease_state(*, session: Session, name: str) -> LeaseState | None:
    """The lease row, if any (expired or not)."""
    row = session.execute(
        select(SchedulerLease.holder, SchedulerLease.expires_at, SchedulerLease.acquired_at)
        .where(SchedulerLease.name == name)
    ).one_or_none()
    return LeaseState(*row) if row else None
