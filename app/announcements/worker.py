"""The render worker: started with the app in every process, it claims render jobs and runs
them in a process pool (TTS, loudness and MP3 encoding never run on the event loop).

The loop sleeps until a job is enqueued in this process (a wake-up after the commit) or
for ``POLL_S`` (jobs enqueued by other processes, leases that ran out). Database calls run in
threads; the render itself in a worker process; the event loop only coordinates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from fastapi import FastAPI

from app.announcements import queue
from app.announcements.queue import ClaimedJob
from app.announcements.render_task import RenderedAudio, render_revision
from app.config import get_settings
from app.db import session_scope
from app.metrics import render_seconds
from app.rendering.errors import RenderingError
from app.rendering.isolation import process_context, warm_process_context
from app.rendering.phrasebook import phrasebook

__all__ = ["RenderWorker", "start_render_worker", "stop_render_worker", "POLL_S"]

log = logging.getLogger(__name__)

POLL_S = 1.0
RENEW_EVERY_S = queue.LEASE.total_seconds() / 3


def _process_context() -> Any:
    # forkserver: children fork from a clean process, not from this one with its threads,
    # sockets and database connections; the rendering modules are imported there once
    # (the same context and preload list as the recording workers).
    return process_context()


class RenderWorker:
    """Claims render jobs and renders up to ``concurrency`` of them at a time."""

    def __init__(self, *, concurrency: int) -> None:
        self.worker_id = queue.new_worker_id()
        self.concurrency = concurrency
        self._pool: ProcessPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._main: asyncio.Task[None] | None = None
        self._renders: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start claiming jobs."""
        self._loop = asyncio.get_running_loop()
        self._pool = self._new_pool()
        queue.register_waker(self.wake)
        self._main = asyncio.create_task(self._run(), name="render-worker")
        # Start the fork server now, in the background: the first urgent recording after a
        # restart then waits for a fork, not for the rendering modules to be imported.
        self._loop.run_in_executor(None, warm_process_context)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.concurrency, mp_context=_process_context())

    def wake(self) -> None:
        """Look for jobs now (safe to call from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        """Stop claiming, abandon renders in flight and give their jobs back to the queue."""
        queue.unregister_waker(self.wake)
        tasks = [t for t in (self._main, *self._renders) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        released = await asyncio.to_thread(self._release)
        if released:
            log.info("render worker %s returned %d job(s) to the queue", self.worker_id, released)

    def _release(self) -> int:
        with session_scope() as session:
            return queue.release_jobs(session, worker_id=self.worker_id)

    async def _run(self) -> None:
        while True:
            await self._slots.acquire()
            try:
                claimed = await asyncio.to_thread(self._claim)
            except Exception:  # a database hiccup must not end the worker: retry after a pause
                log.exception("claiming a render job failed")
                claimed = None
            if claimed is None:
                self._slots.release()
                await self._sleep()
                continue
            task = asyncio.create_task(self._render(claimed), name=f"render-{claimed.job_id}")
            self._renders.add(task)
            task.add_done_callback(self._renders.discard)

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), POLL_S)
        self._wake.clear()

    def _claim(self) -> ClaimedJob | None:
        with session_scope() as session:
            if not queue.has_claimable_job(session):
                return None
        with session_scope() as session:
            return queue.claim_next_job(session, worker_id=self.worker_id)

    async def _render(self, claimed: ClaimedJob) -> None:
        started = time.perf_counter()
        try:
            # Rendered before (on any node): the job takes that file, nothing is rendered.
            audio = claimed.rendered or await self._run_in_pool(claimed)
        except RenderingError as exc:
            await asyncio.to_thread(self._fail, claimed, exc.message, False)
        except BrokenProcessPool:  # a worker process died (killed, out of memory)
            await asyncio.to_thread(self._fail, claimed, "the render process died", True)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # an unexpected bug must end the job, not leave it hanging
            log.exception("render job %s failed", claimed.job_id)
            await asyncio.to_thread(self._fail, claimed, f"internal error: {exc}", True)
        else:
            if claimed.rendered is None:
                render_seconds.observe(time.perf_counter() - started)
            await self._record(claimed, audio)
        finally:
            self._slots.release()
            self._wake.set()  # a slot is free: look for the next job at once

    async def _run_in_pool(self, claimed: ClaimedJob) -> RenderedAudio:
        assert self._loop is not None and self._pool is not None
        pool = self._pool
        future = self._loop.run_in_executor(pool, render_revision, claimed.spec)
        while True:
            try:
                return await asyncio.wait_for(asyncio.shield(future), RENEW_EVERY_S)
            except BrokenProcessPool:
                if self._pool is pool:  # the first render to notice replaces the pool
                    self._pool = self._new_pool()
                raise
            except TimeoutError:
                if not await asyncio.to_thread(self._renew, claimed):
                    future.cancel()
                    raise RenderingError(
                        "the render job was taken over by another worker") from None

    async def _record(self, claimed: ClaimedJob, audio: RenderedAudio) -> None:
        try:
            await asyncio.to_thread(self._complete, claimed, audio)
        except Exception:  # the file is stored: when the lease runs out the job is redone
            log.exception("recording the result of render job %s failed", claimed.job_id)

    def _renew(self, claimed: ClaimedJob) -> bool:
        with session_scope() as session:
            return queue.renew_lease(session, job_id=claimed.job_id, worker_id=self.worker_id)

    def _complete(self, claimed: ClaimedJob, audio: RenderedAudio) -> None:
        with session_scope() as session:
            queue.complete_job(session, job_id=claimed.job_id, worker_id=self.worker_id,
                               audio=audio)

    def _fail(self, claimed: ClaimedJob, reason: str, retry: bool) -> None:
        with session_scope() as session:
            queue.fail_job(session, job_id=claimed.job_id, worker_id=self.worker_id,
                           reason=reason, retry=retry)


async def start_render_worker(app: FastAPI) -> None:
    """Lifespan start: a render worker for this process, kept on ``app.state``.

    The pinyin phrasebook is loaded (or built, the first time) in the background, so the
    first urgent text or preview does not wait for it.
    """
    threading.Thread(target=phrasebook, name="phrasebook-load", daemon=True).start()
    worker = RenderWorker(concurrency=get_settings().render_workers)
    await worker.start()
    app.state.render_worker = worker


async def stop_render_worker(app: FastAPI) -> None:
    """Lifespan stop: stop this process's render worker."""
    worker: RenderWorker | None = getattr(app.state, "render_worker", None)
    if worker is not None:
        await worker.stop()
        app.state.render_worker = None
