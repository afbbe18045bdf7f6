"""The long-poll's machinery: bounded database work, batched reads, shared programs.

A change can wake every terminal of a hundred villages in the same instant. What keeps
that burst cheap:

- every database read of the terminal protocol is batched: the requests of one event
  loop iteration (the waiters one change wakes, or a crowd of terminals reconnecting)
  are answered by one trip to a worker thread and one session (:class:`Batcher`) —
  token lookups, "where is this terminal and at which version", and programs;
- the terminals of a village share one assembled program per version for a second
  (:meth:`TerminalRuntime.program`), its orders encoded to JSON once;
- a terminal's token and its village's program version are kept in memory: a long-poll
  that finds nothing new touches no database at all. Both are dropped the moment they
  change — a version by the wake-up of its village, a token by ``speaker.token_changed``
  (rotation, retirement, a move; in every process on PostgreSQL) — and expire after
  :data:`TOKEN_TTL_S` / :data:`VERSION_TTL_S` in any case, which bounds what another
  process on SQLite (``cunxiang apply`` beside the server) could leave stale;
- at most :data:`DB_SLOTS` such trips run at once, so a burst queues here rather than on
  the connection pool.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

import anyio.to_thread
from sqlalchemy import select

from app.auth.permissions import Principal
from app.auth.security import token_digest
from app.auth.tokens import resolve_token
from app.db import session_scope
from app.playout.models import VillageProgram
from app.playout.service import Program, assemble_programs

__all__ = ["Batcher", "TerminalRuntime", "DB_SLOTS", "PROGRAM_SHARE_S",
           "TOKEN_TTL_S", "VERSION_TTL_S"]

DB_SLOTS = 4
PROGRAM_SHARE_S = 1.0  # waiters woken together share one assembled program this long
TOKEN_TTL_S = 60.0  # a terminal token is looked up again after this long at the latest
VERSION_TTL_S = 5.0  # a village's program version is read again after this long at the latest

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _resolve_all(tokens: list[str]) -> dict[str, Principal | None]:
    with session_scope() as session:
        return {token: resolve_token(session=session, token=token) for token in tokens}


def _versions(codes: list[str]) -> dict[str, int]:
    """Each village's program version now (0 before its first order), in one query."""
    with session_scope() as session:
        found = dict(session.execute(
            select(VillageProgram.village_code, VillageProgram.version)
            .where(VillageProgram.village_code.in_(codes))
        ).all())
    return {code: found.get(code, 0) for code in codes}


def _build_all(keys: list[tuple[str, str]]) -> dict[tuple[str, str], Program]:
    """Programs of (village, base URL) pairs, one session."""
    by_base: dict[str, list[str]] = {}
    for village, base in keys:
        by_base.setdefault(base, []).append(village)
    built: dict[tuple[str, str], Program] = {}
    with session_scope() as session:
        for base, villages in by_base.items():
            programs = assemble_programs(session=session, village_codes=villages, base_url=base)
            built.update({(v, base): p for v, p in programs.items()})
    return built


class Batcher(Generic[K, V]):
    """Collects the keys asked for in one loop iteration and fetches them in one call."""

    def __init__(self, fetch: Callable[[list[K]], dict[K, V]],
                 run: Callable[..., Any]) -> None:
        self._fetch, self._run = fetch, run
        self._pending: dict[K, list[asyncio.Future[V]]] = {}

    async def get(self, key: K) -> V:
        """The value of ``key`` (fetched together with the others asked for meanwhile)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)  # runs after the callers woken with this one
        self._pending.setdefault(key, []).append(future)
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, {}
        task = asyncio.ensure_future(self._run(self._fetch, list(batch)))
        task.add_done_callback(lambda done: _answer(batch, done))


def _answer(batch: dict[Any, list[asyncio.Future[Any]]], done: asyncio.Future[Any]) -> None:
    failure = None if done.cancelled() else done.exception()
    for key, futures in batch.items():
        for future in futures:
            if future.done():
                continue
            if done.cancelled() or failure is not None:
                future.set_exception(failure or asyncio.CancelledError())
            else:
                future.set_result(done.result()[key])


class TerminalRuntime:
    """Per app: the database slots, the batched reads, the terminals' tokens and versions
    in memory, and the shared programs (every method: the app's event loop thread)."""

    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(DB_SLOTS)
        self._principals: Batcher[str, Principal | None] = Batcher(_resolve_all, self.run)
        self._version_reads: Batcher[str, int] = Batcher(_versions, self.run)
        self._builds: Batcher[tuple[str, str], Program] = Batcher(_build_all, self.run)
        self._programs: dict[tuple[str, int, str], tuple[float, asyncio.Future[Program]]] = {}
        self._programs_pruned = 0.0  # when expired programs were last dropped (loop time)
        self._terminals: dict[str, tuple[float, Principal]] = {}  # token digest → terminal
        self._digests: dict[str, set[str]] = {}  # speaker id → its digests held above
        self._versions: dict[str, tuple[float, int]] = {}  # village → version
        # Bumped by every invalidation: a read that started before one is not kept.
        self._token_epoch = self._version_epoch = 0

    async def run(self, work: Callable[..., V], *args: Any) -> V:
        """Run blocking database work in a worker thread, within the slots."""
        async with self._slots:
            # The request threadpool (AnyIO's, 40 threads), not the loop's small default one.
            return await anyio.to_thread.run_sync(work, *args)

    async def resolve(self, token: str) -> Principal | None:
        """The principal of a bearer token (a terminal's from memory when known)."""
        digest = token_digest(token)
        entry = self._terminals.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        epoch = self._token_epoch
        principal = await self._principals.get(token)
        if principal is not None and principal.kind == "terminal" and epoch == self._token_epoch:
            if len(self._terminals) > 200_000:
                self._forget_expired()
            self._terminals[digest] = (time.monotonic() + TOKEN_TTL_S, principal)
            self._digests.setdefault(principal.id, set()).add(digest)
        return principal

    def forget_terminals(self, speaker_ids: Iterable[str]) -> None:
        """These speakers' tokens or villages changed: look them up again."""
        self._token_epoch += 1
        for speaker_id in speaker_ids:
            for digest in self._digests.pop(speaker_id, ()):
                self._terminals.pop(digest, None)

    def forget_everything(self) -> None:
        """Changes may have gone unannounced (a lost connection): look everything up again."""
        self._token_epoch += 1
        self._version_epoch += 1
        self._terminals, self._digests, self._versions = {}, {}, {}

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for digest, (expires, principal) in list(self._terminals.items()):
            if expires <= now:
                del self._terminals[digest]
                held = self._digests.get(principal.id)
                if held is not None:
                    held.discard(digest)
                    if not held:
                        del self._digests[principal.id]

    async def version(self, village: str) -> int:
        """The village's program version now (from memory until the village changes)."""
        entry = self._versions.get(village)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        epoch = self._version_epoch
        version = await self._version_reads.get(village)
        if epoch == self._version_epoch:
            if len(self._versions) > 200_000:
                self._versions = _unexpired(self._versions)
            self._versions[village] = (time.monotonic() + VERSION_TTL_S, version)
        return version

    def villages_changed(self, village_codes: Iterable[str]) -> None:
        """These villages' programs changed (called before their waiters are woken)."""
        self._version_epoch += 1
        for code in village_codes:
            self._versions.pop(code, None)

    async def program(self, village: str, version: int, base_url: str) -> Program:
        """The village's program; one assembly serves every terminal asking for this version."""
        now = asyncio.get_running_loop().time()
        key = (village, version, base_url)
        entry = self._programs.get(key)
        if entry is None or entry[0] < now:
            # Expired programs go once a share period, not at every new one: a change that
            # wakes 10,000 villages at once builds 10,000 programs within that second.
            if now >= self._programs_pruned + PROGRAM_SHARE_S:
                self._programs = {k: v for k, v in self._programs.items() if v[0] >= now}
                self._programs_pruned = now
            entry = (now + PROGRAM_SHARE_S,
                     asyncio.ensure_future(self._builds.get((village, base_url))))
            self._programs[key] = entry
        try:
            return await asyncio.shield(entry[1])
        except Exception:
            self._programs.pop(key, None)  # a failure is not shared with later callers
            raise


def _unexpired(entries: dict[K, tuple[float, V]]) -> dict[K, tuple[float, V]]:
    now = time.monotonic()
    return {key: entry for key, entry in entries.items() if entry[0] > now}
