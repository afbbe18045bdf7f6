"""Background services: plain objects with ``start()`` and ``stop()``, run in a listed order.

:mod:`app.wiring` builds the services of a server process and :mod:`app.main` runs them for
the app's lifespan with :class:`Services`: started in the listed order, each one's event
wake-ups subscribed once it runs (:func:`app.runtime.events.subscribe`), stopped in the
reverse order. ``start`` and ``stop`` may be plain or ``async`` methods; an ``async`` service
runs on the app's event loop.

:class:`PeriodicTask` is the loop most services are made of: call a blocking function in a
thread every so often (flush a buffer, prune a directory, read versions), keep going when it
fails, and optionally call it one last time on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from app.runtime import events
from app.runtime.events import Handler

__all__ = ["Service", "Running", "Services", "PeriodicTask"]

log = logging.getLogger(__name__)


class Service(Protocol):
    """Something that runs in the background of a process between ``start()`` and ``stop()``."""

    def start(self) -> Any:
        """Start running (may be a coroutine function)."""

    def stop(self) -> Any:
        """Stop running and let go of what it holds (may be a coroutine function)."""


@dataclass(frozen=True)
class Running:
    """A service as a process runs it: its name (for logs), itself, and the events it hears."""

    name: str
    service: Service
    hears: Sequence[tuple[str, Handler]] = ()


async def _call(method: Callable[[], Any]) -> None:
    result = method()
    if inspect.isawaitable(result):
        await result


class Services:
    """Services started in order and stopped in the reverse order."""

    def __init__(self, entries: Sequence[Running]) -> None:
        names = [entry.name for entry in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"services listed twice: {names}")
        self.entries = tuple(entries)
        self._started: list[Running] = []

    def __getitem__(self, name: str) -> Service:
        for entry in self.entries:
            if entry.name == name:
                return entry.service
        raise KeyError(name)

    async def start(self) -> None:
        """Start each service, then let it hear its events; on a failure, stop what started."""
        try:
            for entry in self.entries:
                await _call(entry.service.start)
                self._started.append(entry)
                for name, handler in entry.hears:
                    events.subscribe(name, handler)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop the started services, last first; a failure is logged and the others go on."""
        while self._started:
            entry = self._started.pop()
            for name, handler in entry.hears:
                events.unsubscribe(name, handler)
            try:
                await _call(entry.service.stop)
            except Exception:
                log.exception("stopping %s failed", entry.name)


class PeriodicTask:
    """Call ``work`` (blocking: it runs in a thread) every ``every_s`` seconds on the loop.

    The first call comes after ``first_after_s`` (default: ``every_s``). A failing call is
    logged and the loop goes on. ``stop()`` ends the loop — waiting for a call in progress,
    or cancelling it with ``cancel_on_stop`` (work that may wait long on a database that is
    away) — then calls ``final`` once if given (write what is still pending).
    """

    def __init__(self, name: str, work: Callable[[], Any], *, every_s: float,
                 first_after_s: float | None = None, final: Callable[[], Any] | None = None,
                 cancel_on_stop: bool = False) -> None:
        self.name, self.work, self.every_s = name, work, every_s
        self.first_after_s = every_s if first_after_s is None else first_after_s
        self.final, self.cancel_on_stop = final, cancel_on_stop
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop on the running event loop."""
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(self._stop),
                                                            name=self.name)

    async def stop(self) -> None:
        """End the loop, then run ``final`` (in a thread)."""
        if self._stop is None or self._task is None:
            return
        self._stop.set()
        if self.cancel_on_stop:
            self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._stop = self._task = None
        if self.final is not None:
            await asyncio.to_thread(self.final)

    async def _run(self, stop: asyncio.Event) -> None:
        delay = self.first_after_s
        while True:
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            try:
                await asyncio.to_thread(self.work)
            except Exception:  # the database or a disk may be briefly away: try next time
                log.exception("%s failed; will retry", self.name)
            delay = self.every_s
