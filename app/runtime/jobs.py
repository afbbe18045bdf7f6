"""What the scheduler runs: periodic leader jobs, and jobs at local times of day.

The process holding the database lease (:mod:`app.runtime.scheduler`) runs every
:class:`LeaderJob` it was given, and no other process does. :mod:`app.wiring` lists them::

    LeaderJob("playout.mark_missed", mark_missed, seconds=30)

A job takes no arguments, opens its own session (``app.db.session_scope``) and should be
idempotent: after a takeover the new leader may run it again for the same period. It is
called every ``seconds`` (and once as soon as the process becomes leader, unless
``run_at_start=False``). A long job cuts its work into chunks (:class:`app.runtime.chunked.Pacer`)
and stops between two of them when the lease is lost.

:class:`ClockJobs` are jobs at local times of day that follow the data (the times at which
schedules play): the scheduler asks for the wanted times at every lease tick and keeps one
cron job per time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["LeaderJob", "ClockJobs"]


@dataclass(frozen=True)
class LeaderJob:
    """A periodic job that only the lease holder runs."""

    name: str
    func: Callable[[], Any]
    seconds: float
    run_at_start: bool = True

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("seconds must be positive")


@dataclass(frozen=True)
class ClockJobs:
    """Jobs at local times of day: ``times()`` says which ("HH:MM"), ``run()`` runs at each."""

    name: str
    times: Callable[[], set[str]]
    run: Callable[[], None]
