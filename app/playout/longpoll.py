"""The long-poll's machinery: bounded database work, batched reads, shared programs.

A change can wake every terminal of a hundred villages in the same instant. What keeps
that burst cheap:

- every database read of the terminal protocol is batched: the requests of one event
  loop iteration (the waiters one change wakes, or a crowd of terminals reconnecting)
  are answered by one trip to a worker thread and one session (:class:`Batcher`) —
  token lookups, "where is this terminal and at which version", and programs;
- the terminals of a village share one assembled program per version for a second
  (:meth:`TerminalRuntime.program`), its orders encoded to JSON once;
- at most :data:`DB_SLOTS` such trips run at once, so a burst queues here rather than on
  the connection pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from fastapi import FastAPI
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from app.auth.permissions import Principal
from app.auth.service import resolve_token
from app.db import session_scope
from app.playout.models import VillageProgram
from app.playout.service import Program, assemble_programs
from app.speakers.models import Speaker

__all__ = ["Batcher", "TerminalRuntime", "terminal_runtime", "DB_SLOTS", "PROGRAM_SHARE_S"]

DB_SLOTS = 4
PROGRAM_SHARE_S = 1.0  # waiters woken together share one assembled program this long

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
StateKey = tuple[str, str]  # (speaker id, token digest)
State = tuple[str, int] | None  # (village, program version); None: the token no longer holds


def _resolve_all(tokens: list[str]) -> dict[str, Principal | None]:
    with session_scope() as session:
        return {token: resolve_token(session=session, token=token) for token in tokens}


def _states(keys: list[StateKey]) -> dict[StateKey, State]:
    """Each speaker's village and program version now, in one query."""
    with session_scope() as session:
        rows = session.execute(
            select(Speaker.id, Speaker.token_hash, Speaker.village_code, VillageProgram.version)
            .outerjoin(VillageProgram, VillageProgram.village_code == Speaker.village_code)
            .where(Speaker.id.in_({k[0] for k in keys}), Speaker.retired_at.is_(None))
        ).all()
    found = {(r[0], r[1]): (r[2], r[3] or 0) for r in rows}
    return {key: found.get(key) for key in keys}


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
    """Per app: the database slots, the batched reads and the shared programs."""

    def __init__(self) -> None:
        self._slots = asyncio.Semaphore(DB_SLOTS)
        self._principals: Batcher[str, Principal | None] = Batcher(_resolve_all, self.run)
        self._states: Batcher[StateKey, State] = Batcher(_states, self.run)
        self._builds: Batcher[tuple[str, str], Program] = Batcher(_build_all, self.run)
        self._programs: dict[tuple[str, int, str], tuple[float, asyncio.Future[Program]]] = {}

    async def run(self, work: Callable[..., V], *args: Any) -> V:
        """Run blocking database work in a worker thread, within the slots."""
        async with self._slots:
            return await run_in_threadpool(work, *args)

    async def resolve(self, token: str) -> Principal | None:
        """The principal of a bearer token."""
        return await self._principals.get(token)

    async def state(self, speaker_id: str, digest: str) -> State:
        """The terminal's village and program version now."""
        return await self._states.get((speaker_id, digest))

    async def program(self, village: str, version: int, base_url: str) -> Program:
        """The village's program; one assembly serves every terminal asking for this version."""
        loop = asyncio.get_running_loop()
        key = (village, version, base_url)
        entry = self._programs.get(key)
        if entry is None or entry[0] < loop.time():
            if len(self._programs) > 1000:
                self._programs = {k: v for k, v in self._programs.items() if v[0] >= loop.time()}
            entry = (loop.time() + PROGRAM_SHARE_S,
                     asyncio.ensure_future(self._builds.get((village, base_url))))
            self._programs[key] = entry
        try:
            return await asyncio.shield(entry[1])
        except Exception:
            self._programs.pop(key, None)  # a failure is not shared with later callers
            raise


def terminal_runtime(app: FastAPI) -> TerminalRuntime:
    """The app's runtime (made on first use, inside its event loop)."""
    runtime = getattr(app.state, "terminal_runtime", None)
    if runtime is None:
        runtime = app.state.terminal_runtime = TerminalRuntime()
    return runtime
