"""The schedules' leader jobs: the horizon top-up, finishing re-issues, and the schedule times.

:mod:`app.wiring` gives them to the scheduler (:mod:`app.runtime.scheduler`): the two
periodic jobs, and :data:`SCHEDULE_CLOCK`, one job per distinct local time of day at which an
enabled schedule plays. When such a time comes, the schedules with a slot starting now are
topped up together (their next day's slot has just entered a 24 h horizon), then checked that
every village holds its order for the slot starting now.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from app.db import session_scope, utcnow
from app.runtime.jobs import ClockJobs
from app.schedules.issuing import (
    resume_pending_reissues,
    rule_of,
    top_up_all,
    top_up_paced,
    verify_slots,
)
from app.schedules.models import Schedule
from app.schedules.rules import occurrences

__all__ = ["top_up_horizon", "resume_reissues", "run_time_of_day", "slot_times",
           "SCHEDULE_CLOCK", "HORIZON_EVERY_S", "REISSUE_EVERY_S"]

log = logging.getLogger(__name__)

HORIZON_EVERY_S = 60
REISSUE_EVERY_S = 5
_SLOT_VERIFY_WINDOW = timedelta(minutes=5)


def top_up_horizon() -> None:
    """Keep every enabled schedule's orders issued up to the horizon."""
    report = top_up_all()
    if report.issued:
        log.info("horizon: issued %d order(s) for %d village(s)", report.issued,
                 len(report.villages))


def resume_reissues() -> None:
    """Finish the chunked re-issues of schedules that a stopped process left half-done."""
    resume_pending_reissues()


def slot_times() -> set[str]:
    """Every local time of day ("HH:MM") at which an enabled schedule plays."""
    with session_scope() as session:
        return {slot for schedule in session.scalars(
            select(Schedule).where(Schedule.enabled.is_(True)))
            for slot in rule_of(schedule).slots}


def run_time_of_day(now: datetime | None = None) -> None:
    """A schedule time came: top up the schedules with a slot starting now and verify the slot."""
    now = now or utcnow()
    with session_scope() as session:
        due: dict[str, datetime] = {}
        for schedule in session.scalars(select(Schedule).where(Schedule.enabled.is_(True))):
            slots = occurrences(rule_of(schedule), now - _SLOT_VERIFY_WINDOW,
                                now + timedelta(seconds=1))
            if slots:
                due[schedule.id] = slots[-1]
    if not due:
        return
    top_up_paced(due, now=now)
    with session_scope() as session:
        verify_slots(session, due)


SCHEDULE_CLOCK = ClockJobs("schedules", times=slot_times, run=run_time_of_day)
