"""Long writes as a series of short transactions, so that no other write waits long behind them.

SQLite has one writer at a time: a transaction that writes for 10 s makes every other writer
(an urgent broadcast, a heartbeat flush) wait 10 s or fail. On PostgreSQL a long transaction
holds its row locks (program versions, schedules) just as long. So a bulk change (a CSV import
of 100,000 areas, re-issuing a schedule over 16,000 villages) is cut into chunks, each one
transaction, sized by a :class:`Pacer` to last about ``target_s``; between two chunks the
pacer pauses long enough for a writer waiting on SQLite's busy handler to get in (it retries
at least every 100 ms), and stops the work when the process is shutting down or the scheduler
lease that runs it was lost: :class:`Interrupted` is raised between two chunks, never inside
one. Whoever runs such a write records its progress durably, so an interrupted one is resumed.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import FastAPI

from app.config import get_settings

__all__ = [
    "Interrupted",
    "Pacer",
    "guarded_by",
    "request_stop",
    "should_stop",
    "start_stop_watch",
    "stop_stop_watch",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Set when the process is shutting down (SIGTERM/SIGINT, or the app's lifespan ends).
_stopping = threading.Event()
# A job's own condition to go on (the scheduler's: "this process still holds the lease").
_guard = threading.local()
# SQLite's busy handler retries a waiting writer at least every 100 ms.
_SQLITE_PAUSE_S = 0.12


class Interrupted(Exception):  # noqa: N818 (not an error: the work stopped where asked)
    """A long write stopped between two chunks (shutdown or lost lease); it can be resumed."""


def request_stop() -> None:
    """Ask every long write of this process to stop after its current chunk."""
    _stopping.set()


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
        if self.pause_s:
            time.sleep(self.pause_s)
        if should_stop():
            raise Interrupted

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


def _chain(previous: Any) -> Callable[[int, Any], None]:
    def handler(signum: int, frame: Any) -> None:
        _stopping.set()  # long writes stop between chunks, so the server can exit at once
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    return handler


def start_stop_watch(app: FastAPI) -> None:
    """Lifespan start: long writes run; SIGTERM/SIGINT will stop them (and then the server)."""
    _stopping.clear()
    if threading.current_thread() is not threading.main_thread():
        return  # an in-process test client: its lifespan end stops them
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _chain(signal.getsignal(sig)))


def stop_stop_watch(app: FastAPI) -> None:
    """Lifespan end: long writes still running stop after their current chunk."""
    request_stop()
