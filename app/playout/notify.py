"""Waking long-polls: one ``asyncio.Event`` per village, set after the commit that changed it.

``orders.changed`` (emitted with the program versions' bump) is heard by each running
:class:`ProgramNotifications` service, which queues a wake-up with ``on_commit``; the
wake-up crosses into the app's event loop with ``call_soon_threadsafe`` and sets the
village's event, which the waiting requests
await — no waiter ever polls the database. On PostgreSQL the same change is also
sent with ``pg_notify`` inside the transaction (delivered at commit; by
:func:`announce_orders_changed`, in every process, servers and command-line tools alike),
and a listener thread in every server process wakes its own waiters: several API processes
behind a load balancer all answer within moments.

An event is used once: waking a village pops its event and sets it, so the next
waiter gets a fresh one. A waiter takes the event *before* reading the version, so
a change committed in between is never lost. The same wake-up first drops the
village's version from the terminal runtime's memory (:mod:`app.playout.longpoll`).

``speaker.token_changed`` (a token rotated, a speaker retired or moved) travels the
same way, on its own channel, and makes every process forget that terminal's token.

A change committed by another process without a notification — on SQLite, which has
none (``cunxiang apply`` beside the server), or on PostgreSQL while the listener was
reconnecting — is caught by a watch that reads every village's version each
:data:`WATCH_INTERVAL_S` and wakes what changed: terminals hear of it within seconds,
never only at the end of their long-poll. A reconnected listener also forgets the
tokens and versions held in memory, since their notifications may be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import session_scope
from app.metrics import REGISTRY
from app.playout.models import VillageProgram
from app.runtime.events import Handler, on_commit
from app.runtime.services import PeriodicTask

if TYPE_CHECKING:
    from app.playout.longpoll import TerminalRuntime

__all__ = [
    "ProgramNotifier",
    "ProgramNotifications",
    "announce_orders_changed",
    "announce_token_changed",
    "CHANNEL",
    "TERMINALS_CHANNEL",
    "WATCH_INTERVAL_S",
    "program_waiters",
]

log = logging.getLogger(__name__)

CHANNEL = "cunxiang_programs"
TERMINALS_CHANNEL = "cunxiang_terminals"
WATCH_INTERVAL_S = 2.0
_PAYLOAD_LIMIT = 7000  # pg_notify payloads must stay under 8000 bytes

program_waiters = Gauge(
    "cunxiang_program_waiters", "Terminal long-polls waiting for a program change",
    registry=REGISTRY,
)


class ProgramNotifier:
    """The per-village events of one event loop (every method but :meth:`wake`: loop thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop,
                 runtime: TerminalRuntime | None = None) -> None:
        self.loop = loop
        self.runtime = runtime
        self._events: dict[str, asyncio.Event] = {}
        self.waiting = 0
        self.closing = False  # the process is stopping: long-polls answer at once

    def event_for(self, village_code: str) -> asyncio.Event:
        """The event the next change of this village sets (take it before reading the version)."""
        event = self._events.get(village_code)
        if event is None:
            event = self._events[village_code] = asyncio.Event()
        return event

    async def wait(self, event: asyncio.Event, timeout: float) -> bool:
        """Wait for ``event`` up to ``timeout`` seconds; True if it was set."""
        if self.closing:
            return False
        self.waiting += 1
        program_waiters.inc()
        try:
            async with asyncio.timeout(timeout):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
            program_waiters.dec()

    def wake(self, village_codes: Iterable[str]) -> None:
        """Wake the waiters of these villages; safe from any thread."""
        codes = tuple(village_codes)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting
            self.loop.call_soon_threadsafe(self._wake, codes)

    def wake_after_commit(self, session: Session, village_codes: Iterable[str],
                          **_: Any) -> None:
        """Event handler (``orders.changed``): wake these villages' waiters after the commit."""
        codes = frozenset(village_codes)
        on_commit(session, lambda: self.wake(codes))

    def forget_after_commit(self, session: Session, speaker_id: str, **_: Any) -> None:
        """Event handler (``speaker.token_changed``): look the terminal up again after the
        commit."""
        on_commit(session, lambda: self.forget_terminals((speaker_id,)))

    def close(self) -> None:
        """The process is stopping: end every long-poll now (unchanged: 304) and refuse to
        wait from now on; safe from any thread and from a signal handler."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self.closing = True
        self._wake(tuple(self._events))

    def forget_terminals(self, speaker_ids: Iterable[str]) -> None:
        """Make this loop's runtime look these terminals up again; safe from any thread."""
        ids = tuple(speaker_ids)
        if self.runtime is not None:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(self.runtime.forget_terminals, ids)

    def resync(self) -> None:
        """Notifications may have been lost: forget what is held in memory and wake every
        waiter, who then reads its village afresh; safe from any thread."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(self._resync)

    def _resync(self) -> None:
        if self.runtime is not None:
            self.runtime.forget_everything()
        self._wake(tuple(self._events))

    def _wake(self, codes: tuple[str, ...]) -> None:
        if self.runtime is not None:
            self.runtime.villages_changed(codes)
        for code in codes:
            event = self._events.pop(code, None)
            if event is not None:
                event.set()


def announce_orders_changed(session: Session, village_codes: Iterable[str], **_: Any) -> None:
    """Event handler (every process): on PostgreSQL, tell the other processes at commit."""
    if session.get_bind().dialect.name == "postgresql":
        for payload in _payloads(sorted(frozenset(village_codes))):
            session.execute(select(func.pg_notify(CHANNEL, payload)))


def announce_token_changed(session: Session, speaker_id: str, **_: Any) -> None:
    """Event handler (every process): on PostgreSQL, tell the other processes at commit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(TERMINALS_CHANNEL, speaker_id)))


def _payloads(codes: list[str]) -> Iterable[str]:
    """Village codes joined by commas, in payloads that fit pg_notify."""
    chunk: list[str] = []
    size = 0
    for code in codes:
        if chunk and size + len(code) + 1 > _PAYLOAD_LIMIT:
            yield ",".join(chunk)
            chunk, size = [], 0
        chunk.append(code)
        size += len(code) + 1
    if chunk:
        yield ",".join(chunk)


class _PostgresListener:
    """A thread that LISTENs on the channel and wakes this process's waiters."""

    def __init__(self, url: str, notifier: ProgramNotifier) -> None:
        self.conninfo = make_url(url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        self.deliver: dict[str, Callable[[Iterable[str]], None]] = {
            CHANNEL: notifier.wake, TERMINALS_CHANNEL: notifier.forget_terminals}
        self.resync = notifier.resync
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="cunxiang-program-listener",
                                       daemon=True)

    def _run(self) -> None:
        import psycopg

        while not self.stopping.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    for channel in self.deliver:
                        conn.execute(f"LISTEN {channel}")
                    self.resync()  # what was sent while nobody listened is lost
                    while not self.stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.deliver[note.channel](c for c in note.payload.split(",") if c)
            except psycopg.Error as exc:
                log.warning("program listener lost its connection (%s); retrying", exc)
                self.stopping.wait(2)

    def stop(self) -> None:
        """Ask the thread to end; it does within a second, nobody needs to wait for it."""
        self.stopping.set()


def _all_versions() -> dict[str, int]:
    with session_scope() as session:
        return {code: version for code, version in session.execute(
            select(VillageProgram.village_code, VillageProgram.version))}


class _VersionWatch:
    """Wakes the villages whose version changed without this process being told.

    Every version is compared (one small row per village): a transaction that committed
    long after it bumped a version (``apply`` writes a whole file in one) is seen too.
    """

    def __init__(self, notifier: ProgramNotifier) -> None:
        self.notifier = notifier
        self.known: dict[str, int] | None = None  # None: not read yet (nobody waits before)

    def __call__(self) -> None:
        try:
            versions = _all_versions()
        except Exception as exc:  # the database may be briefly away: look again next time
            log.warning("program version watch failed (%s); retrying", exc)
            return
        # A change this process made itself is woken again here, once: its waiters read
        # the version, find it unchanged and wait on (cheaper than any bookkeeping).
        changed = [code for code, version in versions.items()
                   if self.known is not None and self.known.get(code) != version]
        self.known = versions
        if changed:
            self.notifier.wake(changed)


class ProgramNotifications:
    """The service that wakes this app's long-polls: its event loop's :class:`ProgramNotifier`,
    a LISTEN thread on PostgreSQL and the version watch.

    ``notifier`` exists once started (it belongs to the running event loop). While it runs
    it must hear ``orders.changed`` and ``speaker.token_changed`` (:meth:`hears`).
    ``watch=False``: no version watch (an app run without its lifespan, which could not stop
    it).
    """

    def __init__(self, runtime: TerminalRuntime | None = None, *, watch: bool = True) -> None:
        self.runtime = runtime
        self.watch = watch
        self.notifier: ProgramNotifier | None = None
        self._listener: _PostgresListener | None = None
        self._watch: PeriodicTask | None = None

    async def start(self) -> None:
        """Make the loop's notifier, listen on PostgreSQL, start the version watch."""
        notifier = self.notifier = ProgramNotifier(asyncio.get_running_loop(), self.runtime)
        url = get_settings().database_url
        if url.startswith("postgresql"):
            self._listener = _PostgresListener(url, notifier)
            self._listener.thread.start()
        if not self.watch:
            return
        # cancel_on_stop: it may be waiting on a database that is away: do not wait with it
        self._watch = PeriodicTask("program version watch", _VersionWatch(notifier),
                                   every_s=WATCH_INTERVAL_S, first_after_s=0,
                                   cancel_on_stop=True)
        await self._watch.start()

    async def stop(self) -> None:
        """Stop listening and watching."""
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        if self._watch is not None:
            await self._watch.stop()
            self._watch = None

    def hears(self) -> list[tuple[str, Handler]]:
        """The events this service must hear while it runs."""
        return [("orders.changed", self.wake_after_commit),
                ("speaker.token_changed", self.forget_after_commit)]

    def wake_after_commit(self, session: Session, **data: Any) -> None:
        """Event handler (``orders.changed``): see :meth:`ProgramNotifier.wake_after_commit`."""
        if self.notifier is not None:
            self.notifier.wake_after_commit(session, **data)

    def forget_after_commit(self, session: Session, **data: Any) -> None:
        """Event handler (``speaker.token_changed``): see
        :meth:`ProgramNotifier.forget_after_commit`."""
        if self.notifier is not None:
            self.notifier.forget_after_commit(session, **data)
