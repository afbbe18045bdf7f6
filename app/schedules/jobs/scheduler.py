"""The scheduler runtime: APScheduler 3 in every process, jobs only in the lease holder.

Every process runs a ``BackgroundScheduler`` with one job of its own, the lease tick (every
10 s): take or renew the database lease (30 s). The process that holds it adds

- every registered leader job (:mod:`app.schedules.scheduler`), among them the horizon
  top-up (every 60 s: each schedule's orders issued ``CUNXIANG_HORIZON`` ahead);
- one job per schedule time (a CronTrigger per time of day, from
  :func:`app.schedules.rules.cron_triggers`), never one per village: when it fires, that
  day's occurrence has just entered the horizon a day ahead, so it tops up this schedule and
  checks that each village holds its order for the slot starting now.

A process that fails to renew (the database is unreachable, or another took over after a
pause) removes those jobs at once; every job also checks the lease is still valid before it
runs. When the leader dies, its lease runs out after at most 30 s and another process takes
it at its next tick: within 40 s. ``stop()`` releases the lease so the takeover is immediate.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import on_commit, session_scope, utcnow
from app.events import subscribe
from app.schedules.issuing import rule_of, top_up_all, top_up_schedule, verify_slot
from app.schedules.jobs.lease import acquire_lease, release_lease
from app.schedules.models import Schedule
from app.schedules.rules import Rule, cron_triggers, occurrences
from app.schedules.scheduler import leader_job, leader_jobs

__all__ = [
    "SchedulerRuntime",
    "LEASE_NAME",
    "LEASE_TTL",
    "RENEW_EVERY",
    "top_up_horizon",
    "run_slot",
    "start_scheduler",
    "stop_scheduler",
]

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
RENEW_EVERY = timedelta(seconds=10)
LEASE_TTL = timedelta(seconds=30)
# A job starts only while the lease has at least this long left, so a process that was
# paused past its expiry does not run a job alongside the new leader.
_SAFETY = timedelta(seconds=5)
# How late a schedule-time job may still run. APScheduler's default (1 s) would drop most of
# them when thousands of schedule times share a second and queue for a few worker threads;
# their work is idempotent and still useful an hour late (the horizon job covers the rest).
_SLOT_MISFIRE_GRACE = 3600
_SLOT_VERIFY_WINDOW = timedelta(minutes=5)
# The runtimes started in this process (normally one), to resync their jobs after a change.
_RUNNING: set[SchedulerRuntime] = set()


@leader_job("schedules.horizon", seconds=60)
def top_up_horizon() -> None:
    """Keep every enabled schedule's orders issued up to the horizon."""
    report = top_up_all()
    if report.issued:
        log.info("horizon: issued %d order(s) for %d village(s)", report.issued,
                 len(report.villages))


def run_slot(schedule_id: str, now: datetime | None = None) -> None:
    """A schedule time came: top the schedule up, then check the slot starting now is issued."""
    now = now or utcnow()
    with session_scope() as session:
        top_up_schedule(session, schedule_id, now=now)
    with session_scope() as session:
        schedule = session.get(Schedule, schedule_id)
        if schedule is None or not schedule.enabled:
            return
        due = occurrences(rule_of(schedule), now - _SLOT_VERIFY_WINDOW, now + timedelta(seconds=1))
        if due:
            verify_slot(session, schedule_id, due[-1])


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class SchedulerRuntime:
    """One process's scheduler: the lease tick, and the leader's jobs while it holds the lease."""

    def __init__(self, *, holder: str | None = None, lease_name: str = LEASE_NAME,
                 renew_every: timedelta = RENEW_EVERY, ttl: timedelta = LEASE_TTL,
                 workers: int = 8) -> None:
        self.holder = holder or _holder_name()
        self.lease_name = lease_name
        self._renew_every, self._ttl = renew_every, ttl
        self._scheduler = BackgroundScheduler(
            timezone=get_settings().tz,
            executors={"default": ThreadPoolExecutor(max_workers=workers)},
        )
        self._lease_until: datetime | None = None
        self._leader_jobs: set[str] = set()
        self._slot_jobs: dict[str, tuple[Rule, list[str]]] = {}

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start the scheduler thread; the first lease tick runs at once."""
        self._scheduler.start()
        _RUNNING.add(self)
        # The tick must run even if a tick was missed (a paused process): never skip it, and
        # collapse a backlog into one run.
        self._scheduler.add_job(
            self.tick, IntervalTrigger(seconds=self._renew_every.total_seconds()),
            id="lease", next_run_time=datetime.now(self._scheduler.timezone),
            coalesce=True, misfire_grace_time=None, max_instances=1,
        )

    def stop(self) -> None:
        """Stop the jobs, wait for running ones, and give the lease up."""
        _RUNNING.discard(self)
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self._lease_until is not None:
            self._lease_until = None
            try:
                with session_scope() as session:
                    release_lease(session=session, name=self.lease_name, holder=self.holder)
            except SQLAlchemyError:
                log.warning("could not release the scheduler lease; it expires by itself")

    def running(self) -> bool:
        """True while the scheduler thread runs (leader or not)."""
        return bool(self._scheduler.running)

    @property
    def is_leader(self) -> bool:
        """True while this process holds a lease with enough time left to start a job."""
        until = self._lease_until
        return until is not None and utcnow() < until - _SAFETY

    def nudge(self) -> None:
        """Run the lease tick now (it resyncs the schedule-time jobs), not in up to 10 s."""
        if self._scheduler.running:
            now = datetime.now(self._scheduler.timezone)
            self._scheduler.modify_job("lease", next_run_time=now)

    def job_ids(self) -> list[str]:
        """The ids of the scheduled jobs (the lease tick, leader jobs, schedule times)."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    # ------------------------------------------------------------ the lease

    def tick(self) -> None:
        """Take or renew the lease; become leader or step down accordingly."""
        try:
            with session_scope() as session:
                expires = acquire_lease(session=session, name=self.lease_name,
                                        holder=self.holder, ttl=self._ttl)
        except SQLAlchemyError:
            log.exception("scheduler lease: the database did not answer")
            expires = None
        if expires is None:
            if self._lease_until is not None:
                log.warning("scheduler lease lost: %s stops running jobs", self.holder)
                self._step_down()
            return
        if self._lease_until is None:
            log.info("scheduler lease taken: %s runs the jobs", self.holder)
        self._lease_until = expires
        self._add_leader_jobs()
        self._sync_slot_jobs()

    def _step_down(self) -> None:
        self._lease_until = None
        for job_id in [f"leader:{name}" for name in self._leader_jobs] + [
            job_id for _, ids in self._slot_jobs.values() for job_id in ids
        ]:
            self._remove(job_id)
        self._leader_jobs.clear()
        self._slot_jobs.clear()

    def _remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def _guarded(self, func: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            if self.is_leader:
                func()

        return run

    # ------------------------------------------------------------ leader jobs

    def _add_leader_jobs(self) -> None:
        for job in leader_jobs():
            if job.name in self._leader_jobs:
                continue
            start = {"next_run_time": datetime.now(self._scheduler.timezone)} \
                if job.run_at_start else {}
            # A periodic job that ran late is still worth running once; a backlog of missed
            # runs collapses into one (coalesce) since each run does everything due.
            self._scheduler.add_job(
                self._guarded(job.func), IntervalTrigger(seconds=job.seconds),
                id=f"leader:{job.name}", name=job.name, coalesce=True,
                misfire_grace_time=max(1, int(job.seconds)), max_instances=1, **start,
            )
            self._leader_jobs.add(job.name)

    def _sync_slot_jobs(self) -> None:
        """One job per schedule time of every enabled schedule; rebuilt when a rule changes."""
        with session_scope() as session:
            wanted = {s.id: rule_of(s) for s in session.scalars(
                select(Schedule).where(Schedule.enabled.is_(True)))}
        for schedule_id in list(self._slot_jobs):
            rule, ids = self._slot_jobs[schedule_id]
            if wanted.get(schedule_id) != rule:
                for job_id in ids:
                    self._remove(job_id)
                del self._slot_jobs[schedule_id]
        for schedule_id, rule in wanted.items():
            if schedule_id not in self._slot_jobs:
                self._slot_jobs[schedule_id] = (rule, self._add_slot_jobs(schedule_id, rule))

    def _add_slot_jobs(self, schedule_id: str, rule: Rule) -> list[str]:
        ids = []
        for index, trigger in enumerate(cron_triggers(rule, get_settings().tz)):
            job_id = f"slot:{schedule_id}:{index}"
            # coalesce: after a stall, one run covers every missed firing (it tops up to the
            # horizon); misfire grace: see _SLOT_MISFIRE_GRACE.
            self._scheduler.add_job(
                self._guarded(partial(run_slot, schedule_id)), trigger, id=job_id,
                name=f"schedule {schedule_id} time {index}", coalesce=True,
                misfire_grace_time=_SLOT_MISFIRE_GRACE, max_instances=1, replace_existing=True,
            )
            ids.append(job_id)
        return ids


@subscribe("schedule.changed")
def _resync_after_commit(session: Session, **_: object) -> None:
    """A schedule changed in this process: resync the schedule-time jobs once it commits."""
    for runtime in list(_RUNNING):
        on_commit(session, runtime.nudge)


def start_scheduler(app: FastAPI) -> None:
    """Lifespan start: run the scheduler unless CUNXIANG_SCHEDULER=false."""
    if not get_settings().scheduler:
        return
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # no line per job run
    runtime = SchedulerRuntime()
    runtime.start()
    app.state.scheduler = runtime
    app.state.scheduler_running = runtime.running


def stop_scheduler(app: FastAPI) -> None:
    """Lifespan stop: stop the scheduler and release the lease."""
    runtime: SchedulerRuntime | None = getattr(app.state, "scheduler", None)
    if runtime is not None:
        runtime.stop()
        app.state.scheduler = None
