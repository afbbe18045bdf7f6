"""The scheduler: APScheduler 3 in every process, the leader's jobs only in the lease holder.

Every process runs a ``BackgroundScheduler`` with one job of its own, the lease tick (every
``CUNXIANG_LEASE_RENEW`` s, default 2, on a thread of its own so that busy jobs never delay
it): take or renew the database lease (``CUNXIANG_LEASE_TTL`` s, default 6). The process that
holds it adds

- every :class:`~app.runtime.jobs.LeaderJob` it was given (:mod:`app.wiring` lists them),
  among them the horizon top-up (every 60 s: each schedule's orders issued
  ``CUNXIANG_HORIZON`` ahead);
- for its :class:`~app.runtime.jobs.ClockJobs`, one cron job per wanted local time of day
  ("07:00", "18:30", … in the service's time zone; the schedules' slot times), never one per
  schedule and village: at most 1,440 such jobs. The times are read again at every tick and
  at once after :meth:`Scheduler.nudge` (a schedule changed in this process).

A process that fails to renew (the database is unreachable, or another took over after a
pause) removes those jobs at once. Every job checks before it starts that the lease has a
safety margin left, and a long job (a chunked re-issue, an import) checks it again between
its chunks (:func:`app.runtime.chunked.guarded_by`): a holder that cannot renew stops its work
before its lease runs out, so it never works alongside the next leader. When the leader
dies, its lease runs out at most TTL after its last renewal and another process takes it
at its next tick: within TTL + RENEW (8 s by default). ``stop()`` releases the lease so the
takeover is immediate.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import session_scope, utcnow
from app.runtime.chunked import Interrupted, guarded_by
from app.runtime.events import on_commit
from app.runtime.jobs import ClockJobs, LeaderJob
from app.runtime.lease import acquire_lease, release_lease

__all__ = ["SchedulerRuntime", "LEASE_NAME", "LEASE_TTL", "RENEW_EVERY"]

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
# Defaults of CUNXIANG_LEASE_RENEW and CUNXIANG_LEASE_TTL.
RENEW_EVERY = timedelta(seconds=2)
LEASE_TTL = timedelta(seconds=6)
# How late a time-of-day job may still run. APScheduler's default (1 s) counts a job as missed
# when it waits a second for a worker thread (10,000 same-second jobs with that grace would
# nearly all be "missed"); their work is idempotent and still useful an hour late.
_TIME_MISFIRE_GRACE = 3600


def _holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class SchedulerRuntime:
    """One process's scheduler: the lease tick, and the leader's jobs while it holds the lease.

    ``jobs`` run every so often, ``clock`` at its local times of day; both in the lease holder
    only.
    """

    def __init__(self, *, jobs: Sequence[LeaderJob] = (), clock: ClockJobs | None = None,
                 holder: str | None = None, lease_name: str = LEASE_NAME,
                 renew_every: timedelta | None = None, ttl: timedelta | None = None,
                 workers: int = 8) -> None:
        settings = get_settings()
        names = [job.name for job in jobs]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"leader jobs listed twice: {', '.join(twice)}")
        self.jobs = tuple(sorted(jobs, key=lambda job: job.name))
        self.clock = clock
        self.holder = holder or _holder_name()
        self.lease_name = lease_name
        self._renew_every = renew_every or timedelta(seconds=settings.lease_renew)
        self._ttl = ttl or timedelta(seconds=settings.lease_ttl)
        # A job starts only while the lease has at least this long left, so a holder whose
        # renewals are late (a paused process, a slow database) stops before it can expire.
        self._safety = max(self._ttl - 2 * self._renew_every, self._renew_every / 2)
        self._scheduler = BackgroundScheduler(
            timezone=settings.tz,
            # The lease tick has a thread of its own: eight busy jobs must not delay it.
            executors={"default": ThreadPoolExecutor(max_workers=workers),
                       "lease": ThreadPoolExecutor(max_workers=1)},
        )
        self._lease_until: datetime | None = None
        self._jobs_lock = threading.Lock()
        self._stopped = False
        self._leader_jobs: set[str] = set()
        self._time_jobs: set[str] = set()  # "HH:MM" of the time-of-day jobs

    # ------------------------------------------------------------ life cycle

    def start(self) -> None:
        """Start the scheduler thread; the first lease tick runs at once."""
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # no line per job run
        self._scheduler.start()
        # The tick must run even if a tick was missed (a paused process): never skip it, and
        # collapse a backlog into one run.
        self._scheduler.add_job(
            self.tick, IntervalTrigger(seconds=self._renew_every.total_seconds()),
            id="lease", next_run_time=datetime.now(self._scheduler.timezone),
            coalesce=True, misfire_grace_time=None, max_instances=1, executor="lease",
        )

    def stop(self) -> None:
        """Stop the jobs, wait for running ones, and give the lease up."""
        # APScheduler's shutdown waits for running jobs while holding its job-store lock: a
        # tick finishing meanwhile must not touch the jobs (it would wait for that lock).
        with self._jobs_lock:
            self._stopped = True
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
        return until is not None and utcnow() < until - self._safety

    def nudge(self) -> None:
        """Run the lease tick now (it resyncs the time-of-day jobs), not at its next turn."""
        if self._scheduler.running:
            now = datetime.now(self._scheduler.timezone)
            self._scheduler.modify_job("lease", next_run_time=now)

    def nudge_after_commit(self, session: Session, **_: object) -> None:
        """Event handler: the clock's times may have changed (a schedule did): resync them once
        the transaction commits."""
        on_commit(session, self.nudge)

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
        with self._jobs_lock:
            if self._stopped:
                return
            if expires is None:
                if self._lease_until is not None:
                    log.warning("scheduler lease lost: %s stops running jobs", self.holder)
                    self._step_down()
                return
            if self._lease_until is None:
                log.info("scheduler lease taken: %s runs the jobs", self.holder)
            self._lease_until = expires
            self._add_leader_jobs()
            self._sync_time_jobs()

    def _step_down(self) -> None:
        self._lease_until = None
        for job_id in [f"leader:{name}" for name in self._leader_jobs] + [
            f"time:{hhmm}" for hhmm in self._time_jobs
        ]:
            self._remove(job_id)
        self._leader_jobs.clear()
        self._time_jobs.clear()

    def _remove(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id) is not None:
            self._scheduler.remove_job(job_id)

    def _guarded(self, func: Callable[[], Any]) -> Callable[[], None]:
        def run() -> None:
            if not self.is_leader:
                return
            try:
                with guarded_by(lambda: self.is_leader):
                    func()
            except Interrupted:
                log.info("%s stopped between two chunks (lease lost or shutting down); "
                         "the next leader resumes it", getattr(func, "__name__", "a job"))

        return run

    # ------------------------------------------------------------ leader jobs

    def _add_leader_jobs(self) -> None:
        for job in self.jobs:
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

    def _sync_time_jobs(self) -> None:
        """One job per distinct local time of day the clock wants."""
        if self.clock is None:
            return
        clock = self.clock
        wanted = clock.times()
        for hhmm in self._time_jobs - wanted:
            self._remove(f"time:{hhmm}")
        for hhmm in sorted(wanted - self._time_jobs):
            # coalesce: after a stall, one run covers every missed firing; misfire grace: see
            # _TIME_MISFIRE_GRACE.
            self._scheduler.add_job(
                self._guarded(clock.run),
                CronTrigger(hour=int(hhmm[:2]), minute=int(hhmm[3:]),
                            timezone=get_settings().tz),
                id=f"time:{hhmm}", name=f"{clock.name} at {hhmm}", coalesce=True,
                misfire_grace_time=_TIME_MISFIRE_GRACE, max_instances=1, replace_existing=True,
            )
        self._time_jobs = wanted
