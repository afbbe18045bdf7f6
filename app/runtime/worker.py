"""A worker that claims rows of a queue table and handles up to ``concurrency`` of them at once.

Queues are tables (render jobs, webhook deliveries): a row is claimed with a guarded UPDATE
so that any number of workers, in any process, never take the same one, and a claim is a
lease that runs out if its worker dies. This class is the loop around such a queue, the same
for every one of them:

- claim as many rows as there are free slots (:meth:`ClaimedRowWorker.claim`, blocking: it
  runs in a thread), and handle each in a task of its own (:meth:`ClaimedRowWorker.handle`);
- when fewer rows came than there were free slots, sleep until woken or for ``poll_s`` (rows
  queued by other processes, claims that ran out, retries coming due);
- wake at once when this process queues a row: the queue emits an event in the transaction
  that queued it, and the worker, while it runs, hears it and looks again after the commit
  (:meth:`ClaimedRowWorker.wake_after_commit`).

``stop()`` cancels the handling in flight; subclasses give back what they hold after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session

from app.runtime.events import on_commit

__all__ = ["ClaimedRowWorker"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class ClaimedRowWorker(Generic[T]):
    """Claims rows and handles up to ``concurrency`` at a time (subclasses say how)."""

    name = "worker"

    def __init__(self, *, concurrency: int, poll_s: float) -> None:
        self.concurrency = concurrency
        self.poll_s = poll_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._busy = 0
        self._main: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ what a queue says

    def claim(self, limit: int) -> list[T]:
        """Claim up to ``limit`` rows (blocking; runs in a thread)."""
        raise NotImplementedError

    async def handle(self, item: T) -> None:
        """Do the work of one claimed row and record its outcome."""
        raise NotImplementedError

    def describe(self, item: T) -> str:
        """A short name of a claimed row, for its task."""
        return str(getattr(item, "id", "row"))

    # ------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Start claiming."""
        self._loop = asyncio.get_running_loop()
        self._main = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop claiming and cancel the handling in flight (a claim cut short runs out)."""
        tasks = [t for t in (self._main, *self._handling) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._main = None

    def wake(self) -> None:
        """Look for rows now (safe to call from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    def wake_after_commit(self, session: Session, **_: Any) -> None:
        """Event handler: rows were queued in this transaction; look for them once it commits."""
        on_commit(session, self.wake)

    # ------------------------------------------------------------ the loop

    async def _run(self) -> None:
        while True:
            free = self.concurrency - self._busy
            try:
                claimed = await asyncio.to_thread(self.claim, free) if free > 0 else []
            except Exception:  # a database hiccup must not end the worker: retry after a pause
                log.exception("%s: claiming failed", self.name)
                claimed = []
            for item in claimed:
                self._busy += 1
                task = asyncio.create_task(self._handle(item),
                                           name=f"{self.name}-{self.describe(item)}")
                self._handling.add(task)
                task.add_done_callback(self._handling.discard)
            if len(claimed) < free or free <= 0:
                await self._sleep()

    async def _handle(self, item: T) -> None:
        try:
            await self.handle(item)
        finally:
            self._busy -= 1
            self._wake.set()  # a slot is free: look for the next row at once

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_s)
        self._wake.clear()
