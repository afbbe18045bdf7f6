"""The reference terminal's main loop: five small tasks around one playout machine.

- **poll**: long-polls ``GET /terminal/v1/program``; a new program is saved in the cache
  and handed to the playout and download tasks. While the server is unreachable it
  retries (backing off up to a few seconds) and the cached program plays on.
- **download**: fetches every media file of the program ahead of its start, verifies its
  SHA-256 and stores it atomically; files no order needs any more are removed.
- **playout**: drives :class:`app.playout.priority.Playout` with the program and the
  corrected clock, sleeping until the next boundary (an item's end, an order's start or
  ``not_after``) or a program change; starts and kills the player as the cue changes and
  turns the machine's events into log lines and receipts.
- **heartbeat**: every ``heartbeat_s`` says how the terminal is; queued while offline.
- **send**: delivers queued receipts and heartbeats as soon as the server answers again.

The progress of the machine, the outbox and the clock offset are saved in the cache
directory (atomically, from worker threads so playout timing never waits on a disk), so
a restart — even offline — resumes where it stopped instead of replaying finished
orders. SIGTERM or SIGINT stops everything cleanly (the player is killed, state saved).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx

from app.playout.priority import FINAL_STATES, OrderView, PlayEvent, Playout, PlayoutError
from app.terminal.cache import MediaCache, VerifyError
from app.terminal.client import Refused, ServerClient, Unreachable
from app.terminal.clock import ServerClock
from app.terminal.log import EventLog, iso
from app.terminal.outbox import Outbox
from app.terminal.player import DEFAULT_PLAYER, CommandPlayer, DryRunPlayer, Player, PlayerError
from app.terminal.receipts import receipts_for

__all__ = ["TerminalConfig", "Terminal", "run_terminal"]

MAX_MEDIA_BYTES = 256 * 1024 * 1024
IDLE_TICK_S = 5.0
WARM_UP_BEATS = 4  # the playout task re-checks at least this often (clock corrections)


@dataclass(frozen=True)
class TerminalConfig:
    """How a terminal runs: its server and token, cache, player (None: dry run) and pace."""

    server: str
    token: str
    cache_dir: Path = Path("./terminal-cache")
    player: str | None = DEFAULT_PLAYER
    heartbeat_s: float = 30.0
    wait_s: float = 50.0
    retry_max_s: float = 5.0
    power_file: Path | None = None


def _parse(moment: str) -> datetime:
    return datetime.fromisoformat(moment)


class Terminal:
    """One running terminal (see the module docstring)."""

    def __init__(self, config: TerminalConfig, *, stream: TextIO | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.cache = MediaCache(config.cache_dir)
        self.clock = ServerClock()
        self.log = EventLog(self.clock.now, stream)
        self.player: Player = (DryRunPlayer() if config.player is None
                               else CommandPlayer(config.player))
        self.client = ServerClient(config.server, config.token, transport=transport)
        self.outbox = Outbox()
        self.version: int | None = None
        self.orders: dict[str, dict[str, Any]] = {}
        self.views: list[OrderView] = []
        self.cached: set[str] = set()  # media hashes verified in the cache
        self.waiting: set[str] = set()  # orders due whose media is still on its way
        self.machine = Playout(None)
        self.playing: tuple[str, int, int] | None = None
        self.sounded: set[str] = set()  # orders that have started (for withdrawn receipts)
        self.problems: dict[str, str] = {}  # why an order could not fully sound
        self.online: bool | None = None
        self.fault: str | None = None
        self.stopping = asyncio.Event()
        self.changed = asyncio.Event()  # a new program: the playout task looks again
        self.wanted = asyncio.Event()  # media may be missing: the download task looks again
        self.outgoing = asyncio.Event()  # the outbox has news: the send task tries
        self._saving = asyncio.Lock()
        self.exit_code = 0

    # ------------------------------------------------------------ life cycle

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (or :meth:`stop`); returns the exit code."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop)
        self._restore()
        self.log("terminal-start", server=self.config.server, cache=str(self.cache.root),
                 player="dry-run" if self.player.dry_run else self.config.player,
                 version=self.version, orders=len(self.views), queued=len(self.outbox))
        tasks = [loop.create_task(step(), name=step.__name__) for step in (
            self._poll, self._download, self._playout, self._heartbeat, self._send)]
        for task in tasks:
            task.add_done_callback(self._task_ended)
        await self.stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.player.stop()
        await self._save("playout", self._state())
        await self._save("outbox", self.outbox.snapshot())
        await self.client.close()
        self.log("shutdown", queued=len(self.outbox))
        return self.exit_code

    def stop(self) -> None:
        """Ask the terminal to stop (what SIGTERM does)."""
        self.stopping.set()

    def _task_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        self.log("crashed", task=task.get_name(), error=repr(task.exception()))
        self.exit_code = 1
        self.stop()

    def _restore(self) -> None:
        self.cached = {p.stem for p in self.cache.media_dir.glob("*.mp3")}
        offset = self.cache.load("clock")
        if isinstance(offset, dict) and isinstance(offset.get("offset_ms"), int | float):
            self.clock.offset = timedelta(milliseconds=offset["offset_ms"])
        self.outbox = Outbox.restore(self.cache.load("outbox"))
        program = self.cache.load("program")
        if isinstance(program, dict) and isinstance(program.get("orders"), list):
            self._apply_program(program, source="cache")
        state = self.cache.load("playout")
        if isinstance(state, dict) and isinstance(state.get("machine"), dict):
            try:
                self.machine = Playout.from_dict(state["machine"])
            except (KeyError, TypeError, ValueError):
                self.machine = Playout(None)
            self.sounded = set(state.get("sounded", []))
            self.problems = dict(state.get("problems", {}))
            # Whatever sounded when the terminal stopped counts as cut: it resumes from the
            # start of its item (SPEC §7), not mid-sentence.
            for event in self.machine.resync(self.clock.now()):
                self.log(event.event, order=event.order_id, at=event.at)

    def _state(self) -> dict[str, Any]:
        return {"machine": self.machine.to_dict(), "sounded": sorted(self.sounded),
                "problems": self.problems}

    async def _save(self, name: str, data: Any) -> None:
        """Persist a state file from a worker thread, one write at a time."""
        async with self._saving:
            try:
                await asyncio.to_thread(self.cache.save, name, data)
            except OSError as exc:
                self.log("save-failed", file=name, error=str(exc))

    # ------------------------------------------------------------ connectivity

    def _went_online(self) -> None:
        if self.online is not True:
            self.online = True
            self.log("online", server=self.config.server)
            self.outgoing.set()

    def _went_offline(self, reason: str) -> None:
        if self.online is not False:
            self.online = False
            self.log("offline", reason=reason)

    def _observe_clock(self, answer: Any) -> None:
        body = answer.body if isinstance(answer.body, dict) else {}
        if "server_time" not in body:
            return
        arrived = _parse(body["received_at"]) if body.get("received_at") else None
        before = self.clock.offset
        sent, received = answer.sent, answer.received
        if not self.clock.observe(_parse(body["server_time"]), sent, received, arrived):
            return
        if abs(self.clock.offset - before) > timedelta(milliseconds=20):
            offset_ms = round(self.clock.offset.total_seconds() * 1000, 1)
            self.log("clock", offset_ms=offset_ms, rtt_ms=round(
                (received - sent).total_seconds() * 1000, 1))
            self._later(self._save("clock", {"offset_ms": offset_ms}))
            self.changed.set()

    def _later(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        task.add_done_callback(lambda t: None if t.cancelled() else t.exception())

    # ------------------------------------------------------------ the program

    def _apply_program(self, program: dict[str, Any], *, source: str) -> None:
        views, orders = [], {}
        for order in program.get("orders", []):
            try:
                view = OrderView.from_program(order)
            except PlayoutError as exc:
                self.log("order-refused", order=order.get("id"), reason=str(exc))
                continue
            views.append(view)
            orders[view.id] = order
        self.views, self.orders = views, orders
        self.version = program.get("version")
        self.log("program", version=self.version, orders=len(views), source=source,
                 ids=",".join(orders) or None)
        self.changed.set()
        self.wanted.set()

    async def _poll(self) -> None:
        delay = 0.5
        while True:
            try:
                answer = await self.client.program(self.version, self.config.wait_s)
            except Unreachable as exc:
                self._went_offline(str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.config.retry_max_s)
                continue
            except Refused as exc:
                self.log("unauthorized" if exc.status == 401 else "refused",
                         status=exc.status, detail=exc.detail)
                await asyncio.sleep(max(self.config.retry_max_s, 10.0))
                continue
            delay = 0.5
            self._went_online()
            if answer.status == 200 and isinstance(answer.body, dict):
                self._observe_clock(answer)
                self._apply_program(answer.body, source="server")
                await self._save("program", answer.body)

    # ------------------------------------------------------------ media

    def _media_needed(self) -> list[tuple[str, str]]:
        """(sha256, url) of every file of the program, earliest order first, once each."""
        needed: dict[str, str] = {}
        for view in sorted(self.views, key=lambda v: v.start_at):
            for item in self.orders[view.id].get("media", []):
                needed.setdefault(str(item.get("sha256")), str(item.get("url")))
        return list(needed.items())

    async def _fetch(self, sha256: str, url: str) -> int:
        chunks, size = [], 0
        async for chunk in self.client.download(url):
            size += len(chunk)
            if size > MAX_MEDIA_BYTES:
                raise VerifyError(f"{url} is larger than {MAX_MEDIA_BYTES} bytes")
            chunks.append(chunk)
        return await asyncio.to_thread(self.cache.store, sha256, b"".join(chunks))

    async def _download(self) -> None:
        while True:
            await self.wanted.wait()
            self.wanted.clear()
            needed = self._media_needed()
            failed = False
            for sha256, url in needed:
                if self.cache.has(sha256):
                    self.cached.add(sha256)
                    continue
                started = asyncio.get_running_loop().time()
                try:
                    size = await self._fetch(sha256, url)
                except (Unreachable, Refused, VerifyError, OSError) as exc:
                    self.log("download-failed", sha256=sha256, url=url, error=str(exc))
                    failed = True
                    continue
                elapsed = asyncio.get_running_loop().time() - started
                self.log("download", sha256=sha256, bytes=size, ms=round(elapsed * 1000))
                self.media_arrived(sha256)
            removed = await asyncio.to_thread(self.cache.prune, [sha for sha, _ in needed])
            self.cached.difference_update(removed)
            if failed:
                await asyncio.sleep(2.0)
                self.wanted.set()

    # ------------------------------------------------------------ playout

    async def _playout(self) -> None:
        while True:
            self.changed.clear()
            now = self.clock.now()
            events = self.machine.advance(self._playable(now), now)
            await self._follow(events)
            if events:
                self._report(events)
                await self._save("playout", self._state())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), self._until_next(now))

    def media_arrived(self, sha256: str) -> None:
        """A verified file is in the cache: an order waiting for it may start now."""
        self.cached.add(sha256)
        self.changed.set()

    def _playable(self, now: datetime) -> list[OrderView]:
        """The orders whose media are all cached (test-mode ones need none).

        An order whose files are still downloading stays out of the playout until they
        arrive: it then starts from its first item, late, rather than sound as silence
        for the items it lacks. One that never gets them is never confirmed: the server
        marks it missed.
        """
        ready = []
        for view in self.views:
            media = {str(m.get("sha256")) for m in self.orders[view.id].get("media", [])}
            if view.mode == "test" or media <= self.cached:
                ready.append(view)
                self.waiting.discard(view.id)
            elif view.start_at <= now and view.id not in self.waiting:
                self.waiting.add(view.id)
                self.log("waiting-media", order=view.id, missing=len(media - self.cached))
        return ready

    def _until_next(self, now: datetime) -> float:
        """Seconds until the next instant anything can change (capped at IDLE_TICK_S)."""
        following = now + timedelta(seconds=IDLE_TICK_S)
        cue = self.machine.cue
        if cue is not None:
            view = next((v for v in self.views if v.id == cue.order_id), None)
            if view is not None:
                item = view.item_lengths[cue.item_index]
                following = min(following, now + item - timedelta(seconds=cue.offset_s))
        states = self.machine.states
        for view in self.views:
            if states.get(view.id) in FINAL_STATES:
                continue
            for instant in (view.start_at, view.not_after):
                if now < instant < following:
                    following = instant
        # Wake just after the boundary, never before it (a hair early would find nothing due).
        return max(0.0, (following - self.clock.now()).total_seconds()) + 0.0005

    async def _follow(self, events: list[PlayEvent]) -> None:
        """Make the player play the machine's cue (start, switch, or silence it)."""
        cue = self.machine.cue
        key = (cue.order_id, cue.loop_index, cue.item_index) if cue else None
        again = cue is not None and any(
            e.order_id == cue.order_id and e.event in ("started", "resumed") for e in events)
        if key == self.playing and not again:
            return
        if self.playing is not None:
            await self.player.stop()
            reason = next((e.event for e in events if e.order_id == self.playing[0]
                           and e.event not in ("finished", "started", "resumed")), None)
            if reason:
                self.log("stop", order=self.playing[0], reason=reason)
        self.playing = key
        if cue is not None:
            await self._start(cue.order_id, cue.loop_index, cue.item_index, cue.offset_s)

    async def _start(self, order_id: str, loop: int, index: int, offset_s: float) -> None:
        order = self.orders[order_id]
        item = order["media"][index]
        sha256 = str(item.get("sha256"))
        due = self.clock.now() - timedelta(seconds=offset_s)
        wanted = order.get("volume")
        volume = 100 if wanted is None else int(wanted)
        if not self.cache.has(sha256):
            self.problems[order_id] = f"media {sha256} was not cached in time"
            self.log("play-skipped", order=order_id, item=index, loop=loop, sha256=sha256,
                     reason="media not cached")
            return
        try:
            await self.player.play(self.cache.path(sha256), volume)
        except PlayerError as exc:
            self.fault = self.problems[order_id] = str(exc)
            self.log("player-failed", order=order_id, error=str(exc))
            return
        self.fault = None
        late_ms = (self.clock.now() - due).total_seconds() * 1000
        self.log("play", order=order_id, item=index, loop=loop, sha256=sha256,
                 kind=order.get("kind"), mode=order.get("mode"), title=order.get("title"),
                 start_at=order.get("start_at"), due=due, late_ms=round(late_ms, 1),
                 volume=volume, dry_run=self.player.dry_run)

    def _report(self, events: list[PlayEvent]) -> None:
        """Log the machine's events and queue their receipts."""
        queued = []
        for event in events:
            self.log(event.event, order=event.order_id, at=event.at)
            receipts = receipts_for(event, started=event.order_id in self.sounded,
                                    problem=self.problems.get(event.order_id))
            if event.event in ("started", "resumed"):
                self.sounded.add(event.order_id)
            if event.event in FINAL_STATES:
                self.sounded.discard(event.order_id)
                self.problems.pop(event.order_id, None)
            for receipt in receipts:
                self.log("receipt", order=receipt["order"], event=receipt["event"],
                         at=receipt["at"], detail=receipt.get("detail"))
            queued += receipts
        if queued:
            self.outbox.add_receipts(queued)
            self._later(self._save("outbox", self.outbox.snapshot()))
            self.outgoing.set()

    # ------------------------------------------------------------ heartbeats and receipts

    def _power(self) -> str:
        if self.config.power_file is None:
            return "mains"
        try:
            value = self.config.power_file.read_text().strip()
        except OSError:
            return "mains"
        return value if value in ("mains", "battery", "off") else "mains"

    def _heartbeat_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": "fault" if self.fault else "ok", "power": self._power(),
                                "playing": self.playing[0] if self.playing else None}
        if self.fault:
            body["fault"] = self.fault[:200]
        if self.playing is not None:
            body["volume"] = self.orders.get(self.playing[0], {}).get("volume")
        return body

    async def _heartbeat(self) -> None:
        beats = 0
        while True:
            body = self._heartbeat_body()
            try:
                answer = await self.client.heartbeat(body)
            except Unreachable as exc:
                self._went_offline(str(exc))
                self.outbox.add_heartbeat({**body, "at": iso(self.clock.now())})
                await self._save("outbox", self.outbox.snapshot())
            except Refused as exc:
                self.log("unauthorized" if exc.status == 401 else "refused",
                         status=exc.status, detail=exc.detail)
            else:
                self._went_online()
                self._observe_clock(answer)
            beats += 1
            # The first few come quickly: clock samples before the first start is due.
            await asyncio.sleep(min(self.config.heartbeat_s, 1.0) if beats < WARM_UP_BEATS
                                else self.config.heartbeat_s)

    async def _send(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.outgoing.wait(), self.config.retry_max_s)
            self.outgoing.clear()
            if len(self.outbox):  # offline too: a delivery is also how we notice the way back
                await self._deliver()

    async def _deliver(self) -> None:
        """Send queued receipts (batches) then queued heartbeats; stop at the first outage."""
        while self.outbox.receipts:
            batch = self.outbox.next_receipts()
            if not await self._send_receipts(batch):
                break
        for heartbeat in list(self.outbox.heartbeats):
            try:
                await self.client.heartbeat(heartbeat)
            except Unreachable:
                break
            except Refused as exc:
                self.log("heartbeat-dropped", at=heartbeat.get("at"), status=exc.status)
            self.outbox.drop_heartbeat(heartbeat)
        await self._save("outbox", self.outbox.snapshot())

    async def _send_receipts(self, batch: list[dict[str, Any]]) -> bool:
        """Deliver one batch; a refused batch is retried receipt by receipt. False: stop."""
        try:
            answer = await self.client.receipts(batch)
        except Unreachable as exc:
            self._went_offline(str(exc))
            return False
        except Refused as exc:
            if exc.status == 401:
                self.log("unauthorized", status=401, detail=exc.detail)
                return False
            return await self._send_one_by_one(batch)
        self._went_online()
        self.outbox.drop_receipts(batch)
        self.log("delivered", receipts=len(batch), accepted=answer.body.get("accepted"))
        return True

    async def _send_one_by_one(self, batch: list[dict[str, Any]]) -> bool:
        for receipt in batch:
            try:
                await self.client.receipts([receipt])
            except Unreachable:
                return False
            except Refused as exc:
                if exc.status == 401:
                    return False
                self.log("receipt-dropped", order=receipt.get("order"),
                         event=receipt.get("event"), status=exc.status, detail=exc.detail)
            self.outbox.drop_receipts([receipt])
        return True


def run_terminal(config: TerminalConfig, *, stream: TextIO | None = None) -> int:
    """Run a terminal in a fresh event loop until it is told to stop; returns the exit code."""
    return asyncio.run(Terminal(config, stream=stream).run())
