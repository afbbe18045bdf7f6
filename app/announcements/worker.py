"""The render worker: started with the app in every process, it claims render jobs and runs
them in a process pool (TTS, loudness and MP3 encoding never run on the event loop).

It is a :class:`~app.runtime.worker.ClaimedRowWorker` over the render queue
(:mod:`app.announcements.queue`): it sleeps until a job is queued in this process
(``render.queued``, heard after the commit) or for ``POLL_S`` (jobs queued by other
processes, leases that ran out). Database calls run in threads; the render itself in a worker
process; the event loop only coordinates.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from app.announcements import queue
from app.announcements.queue import ClaimedJob
from app.announcements.render_task import RenderedAudio, render_revision
from app.db import session_scope
from app.metrics import render_seconds
from app.rendering.errors import RenderingError
from app.rendering.isolation import process_context, warm_process_context
from app.rendering.phrasebook import phrasebook
from app.runtime.worker import ClaimedRowWorker

__all__ = ["RenderWorker", "POLL_S"]

log = logging.getLogger(__name__)

POLL_S = 1.0
RENEW_EVERY_S = queue.LEASE.total_seconds() / 3


def _process_context() -> Any:
    # forkserver: children fork from a clean process, not from this one with its threads,
    # sockets and database connections; the rendering modules are imported there once
    # (the same context and preload list as the recording workers).
    return process_context()


class RenderWorker(ClaimedRowWorker[ClaimedJob]):
    """Claims render jobs and renders up to ``concurrency`` of them at a time."""

    name = "render-worker"

    def __init__(self, *, concurrency: int) -> None:
        super().__init__(concurrency=concurrency, poll_s=POLL_S)
        self.worker_id = queue.new_worker_id()
        self._pool: ProcessPoolExecutor | None = None

    async def start(self) -> None:
        """Start claiming jobs.

        The pinyin phrasebook is loaded (or built, the first time) in the background, so the
        first urgent text or preview does not wait for it; the fork server starts now too, so
        the first urgent recording after a restart waits for a fork, not for the rendering
        modules to be imported.
        """
        threading.Thread(target=phrasebook, name="phrasebook-load", daemon=True).start()
        self._pool = self._new_pool()
        await super().start()
        asyncio.get_running_loop().run_in_executor(None, warm_process_context)

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.concurrency, mp_context=_process_context())

    async def stop(self) -> None:
        """Stop claiming, abandon renders in flight and give their jobs back to the queue."""
        await super().stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        released = await asyncio.to_thread(self._release)
        if released:
            log.info("render worker %s returned %d job(s) to the queue", self.worker_id, released)

    def describe(self, item: ClaimedJob) -> str:
        """The job's id."""
        return item.job_id

    def claim(self, limit: int) -> list[ClaimedJob]:
        """Claim up to ``limit`` jobs, one transaction each (a cheap read first)."""
        claimed: list[ClaimedJob] = []
        while len(claimed) < limit:
            with session_scope() as session:
                if not queue.has_claimable_job(session):
                    break
            with session_scope() as session:
                job = queue.claim_next_job(session, worker_id=self.worker_id)
            if job is None:
                break
            claimed.append(job)
        return claimed

    def _release(self) -> int:
        with session_scope() as session:
            return queue.release_jobs(session, worker_id=self.worker_id)

    async def handle(self, claimed: ClaimedJob) -> None:
        """Render one job (or take the file an earlier job of its key made) and record it."""
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
