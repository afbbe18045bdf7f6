"""Leader-only periodic jobs: a registry any part of the service adds to, run by one process.

The scheduler (:mod:`app.schedules.jobs.scheduler`) runs every registered job in the one
process that holds the database lease, and in no other::

    from app.schedules.scheduler import leader_job

    @leader_job("playout.mark_missed", seconds=30)
    def mark_missed_orders() -> None:
        with session_scope() as session:
            ...

A job takes no arguments, opens its own session (``app.db.session_scope``) and should be
idempotent: after a takeover the new leader may run it again for the same period. It is
called every ``seconds`` (and once as soon as the process becomes leader, unless
``run_at_start=False``). The decorated function is returned unchanged, so tests call it
directly. Register at import time of a module the app imports (a router or service module);
a job registered later is picked up at the next lease renewal (within 10 s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["LeaderJob", "leader_job", "leader_jobs", "LEADER_JOBS"]

F = TypeVar("F", bound=Callable[[], Any])


@dataclass(frozen=True)
class LeaderJob:
    """A periodic job that only the lease holder runs."""

    name: str
    func: Callable[[], Any]
    seconds: float
    run_at_start: bool = True


# Built at import time by the modules that define jobs; read by the scheduler.
LEADER_JOBS: dict[str, LeaderJob] = {}


def leader_job(name: str, *, seconds: float, run_at_start: bool = True) -> Callable[[F], F]:
    """Decorator: run the function every ``seconds`` in the lease-holding process only."""
    if seconds <= 0:
        raise ValueError("seconds must be positive")

    def register(func: F) -> F:
        existing = LEADER_JOBS.get(name)
        if existing is not None and existing.func is not func:
            qualified = f"{func.__module__}.{func.__qualname__}"
            if f"{existing.func.__module__}.{existing.func.__qualname__}" != qualified:
                raise ValueError(f"leader job {name!r} is already registered")
        LEADER_JOBS[name] = LeaderJob(name, func, float(seconds), run_at_start)
        return func

    return register


def leader_jobs() -> list[LeaderJob]:
    """Every registered leader job, by name."""
    return [LEADER_JOBS[name] for name in sorted(LEADER_JOBS)]
