"""Long writes as a series of short transactions, so that no other write waits long behind them.

SQLite has one writer at a time: a transaction that writes for 10 s makes every other writer
(an urgent broadcast, a heartbeat flush) wait 10 s or fail. On PostgreSQL a long transaction
holds its row locks (program versions, schedules) just as long. So a bulk change (a CSV import
of 100,000 areas, re-issuing a schedule over 16,000 villages) is cut into chunks, each one
transaction, sized by a :class:`Pacer` to last about ``target_s``.

Between two chunks on SQLite the pacer lets waiting writers in. SQLite's busy handler is not a
queue: a waiting writer sleeps and retries (at least every 100 ms), so a bulk writer that
starts its next chunk at once could starve it. Writers of this process announce themselves
(the engine's statement hooks: :func:`app.db.others_writing`); the pacer waits while one is
waiting. Writers of other processes cannot be seen, so after every second of work the pacer
also pauses long enough for their next retry (:data:`_SQLITE_PAUSE_S`), and always when this
process is a command-line tool sharing the database with a server (:func:`share_database`).
While an urgent broadcast is being answered (:class:`UrgentFirst`), long writes wait between
their chunks, on any database: the broadcast has the database and the CPU to itself.

The pacer also stops the work when the process is shutting down or the scheduler lease that
runs it was lost: :class:`Interrupted` is raised between two chunks, never inside one.
Whoever runs such a write records its progress durably, so an interrupted one is resumed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from app.config import get_settings
from app.db import others_writing
from app.runtime.signals import chain

__all__ = [
    "Interrupted",
    "LongWrites",
    "Pacer",
    "guarded_by",
    "request_stop",
    "reset_stop",
    "share_database",
    "should_stop",
    "start_worker",
    "UrgentFirst",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Set when the process is shutting down (SIGTERM/SIGINT, or the app's lifespan ends).
_stopping = threading.Event()
# A job's own condition to go on (the scheduler's: "this process still holds the lease").
_guard = threading.local()
# SQLite's busy handler retries a waiting writer at least every 100 ms.
_SQLITE_PAUSE_S = 0.12
# Work between two pauses for writers of other processes.
_WORK_BETWEEN_PAUSES_S = 0.8
# How long a bulk writer lets this process's waiting writers go first.
_MAX_YIELD_S = 2.0
_shared = threading.Event()


# Urgent requests (broadcasts) being answered by this process right now.
_urgent = [0]
_urgent_lock = threading.Lock()


class UrgentFirst:
    """ASGI middleware: while an urgent broadcast is being answered, long writes of this
    process wait between their chunks (for the database's lock, and for the CPU)."""

    PATHS = ("/api/v1/broadcasts",)

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        urgent = (scope["type"] == "http" and scope.get("method") == "POST"
                  and str(scope.get("path", "")).startswith(self.PATHS))
        if not urgent:
            await self.app(scope, receive, send)
            return
        with _urgent_lock:
            _urgent[0] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            with _urgent_lock:
                _urgent[0] -= 1


def share_database() -> None:
    """This process (a command-line tool) shares its SQLite database with a running server:
    its long writes pause after every chunk so the server's writers get in."""
    _shared.set()


class Interrupted(Exception):  # noqa: N818 (not an error: the work stopped where asked)
    """A long write stopped between two chunks (shutdown or lost lease); it can be resumed."""


def request_stop() -> None:
    """Ask every long write of this process to stop after its current chunk."""
    _stopping.set()


def reset_stop() -> None:
    """Long writes may run again (an app starting in this process; tests)."""
    _stopping.clear()


def should_stop() -> bool:
    """True when the process is stopping or the current job may no longer run."""
    if _stopping.is_set():
        return True
    check: Callable[[], bool] | None = getattr(_guard, "check", None)
    return check is not None and not check()


@contextmanager
def guarded_by(check: Callable[[], bool]) -> Iterator[None]:
    """Within this block, long writes of this thread stop once ``check()`` is False."""
    previous = getattr(_guard, "check", None)
    _guard.check = check
    try:
        yield
    finally:
        _guard.check = previous


class Pacer:
    """Chunk sizes for one long write: each chunk lasts about ``target_s``, then a pause.

    The size adapts to the measured speed (a village with many orders costs more than one
    without), between ``least`` and ``most`` items.
    """

    def __init__(self, *, target_s: float = 0.25, first: int = 200, least: int = 10,
                 most: int = 5000, pause_s: float | None = None) -> None:
        self.target_s, self.least, self.most = target_s, least, most
        self.size = max(least, min(most, first))
        if pause_s is None:
            pause_s = _SQLITE_PAUSE_S if get_settings().is_sqlite else 0.0
        self.pause_s = pause_s
        self._since_pause = time.monotonic()

    def record(self, items: int, seconds: float) -> None:
        """Adjust the next chunk's size after one of ``items`` took ``seconds``."""
        if items <= 0:
            return
        fitting = items * self.target_s / max(seconds, 1e-3)
        # Halfway towards what would have fitted: one slow chunk (a busy machine) does not
        # shrink the next ones to nothing, nor a fast one make the next far too long.
        self.size = max(self.least, min(self.most, int((self.size + fitting) / 2)))

    def breathe(self) -> None:
        """Between two chunks: stop if asked, else let waiting writers in."""
        if should_stop():
            raise Interrupted
        self._let_writers_in()
        if should_stop():
            raise Interrupted

    def _let_writers_in(self) -> None:
        started = time.monotonic()
        while (others_writing() or _urgent[0]) and time.monotonic() - started < _MAX_YIELD_S:
            time.sleep(0.005)  # a writer or an urgent request of this process goes first
        if not self.pause_s:
            return  # PostgreSQL: its lock queue is fair, writers of other processes get in
        if _shared.is_set() or time.monotonic() - self._since_pause >= _WORK_BETWEEN_PAUSES_S:
            time.sleep(self.pause_s)  # other processes' writers retry within this pause
            self._since_pause = time.monotonic()

    def chunks(self, items: Sequence[T]) -> Iterator[Sequence[T]]:
        """Successive slices of ``items``; the time the caller spends on each sizes the next.

        Raises :class:`Interrupted` between two slices when the work must stop.
        """
        start = 0
        while start < len(items):
            size = self.size
            began = time.monotonic()
            yield items[start:start + size]
            self.record(min(size, len(items) - start), time.monotonic() - began)
            start += size
            if start < len(items):
                self.breathe()


# Threads running long writes in the background of this process (an import answered 202).
_workers: set[threading.Thread] = set()
_WORKER_JOIN_S = 10.0


def start_worker(work: Callable[[], None], *, name: str) -> threading.Thread:
    """Run ``work`` (a long write) in a thread the app's shutdown stops and waits for."""

    def run() -> None:
        try:
            work()
        finally:
            _workers.discard(thread)

    thread = threading.Thread(target=run, name=name, daemon=True)
    _workers.add(thread)
    thread.start()
    return thread


class LongWrites:
    """The service that lets long writes run while the app runs and stops them with it.

    Started, long writes may run; SIGTERM/SIGINT then stops them between two chunks (and the
    server goes on stopping as usual). Stopped, they stop after their current chunk, and the
    threads running them (:func:`start_worker`) get a few seconds to finish it.
    """

    def start(self) -> None:
        """Long writes run; SIGTERM/SIGINT will stop them (main thread only)."""
        reset_stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Never given back: the server is stopping anyway once one arrived.
            chain(sig, request_stop)

    def stop(self) -> None:
        """Long writes still running stop after their current chunk."""
        request_stop()
        deadline = time.monotonic() + _WORKER_JOIN_S
        for thread in list(_workers):
            thread.join(max(0.0, deadline - time.monotonic()))
