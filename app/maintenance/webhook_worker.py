"""The webhook worker: started with the app in every process, it sends queued deliveries.

It sleeps until this process queues a delivery (a wake-up after the commit) or for
``POLL_S`` (retries coming due, rows queued by other processes). Database calls run in
threads; sends are async with short timeouts, each in its own task, so a dead receiver
holds one slot for a few seconds and never the API or other receivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import httpx
from fastapi import FastAPI

from app import __version__
from app.db import session_scope
from app.maintenance import webhooks
from app.maintenance.webhooks import ClaimedDelivery

__all__ = ["WebhookWorker", "start_webhook_worker", "stop_webhook_worker", "POLL_S", "TIMEOUT"]

log = logging.getLogger(__name__)

POLL_S = 1.0
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
CONCURRENCY = 16


class WebhookWorker:
    """Claims due deliveries and POSTs up to ``concurrency`` of them at a time."""

    def __init__(self, *, concurrency: int = CONCURRENCY) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._client: httpx.AsyncClient | None = None
        self._main: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start sending."""
        self._loop = asyncio.get_running_loop()
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False,
            headers={"User-Agent": f"cunxiang-webhooks/{__version__}"},
        )
        webhooks.register_waker(self.wake)
        self._main = asyncio.create_task(self._run(), name="webhook-worker")

    def wake(self) -> None:
        """Look for deliveries now (safe to call from any thread)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def stop(self) -> None:
        """Stop sending; a delivery cut short is sent again once its claim runs out."""
        webhooks.unregister_waker(self.wake)
        tasks = [t for t in (self._main, *self._sends) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            free = self._concurrency - len(self._sends)
            try:
                claimed = await asyncio.to_thread(self._claim, free) if free else []
            except Exception:  # a database hiccup must not end the worker
                log.exception("claiming webhook deliveries failed")
                claimed = []
            for delivery in claimed:
                await self._slots.acquire()
                task = asyncio.create_task(self._send(delivery), name=f"webhook-{delivery.id}")
                self._sends.add(task)
                task.add_done_callback(self._sends.discard)
            if len(claimed) < free or not free:
                await self._sleep()

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), POLL_S)
        self._wake.clear()

    @staticmethod
    def _claim(limit: int) -> list[ClaimedDelivery]:
        with session_scope() as session:
            return webhooks.claim_due(session=session, limit=limit)

    async def _send(self, delivery: ClaimedDelivery) -> None:
        try:
            status, error = await self._post(delivery)
            await asyncio.to_thread(self._record, delivery, status, error)
        except asyncio.CancelledError:
            raise
        except Exception:  # recording failed: the claim runs out and the row is retried
            log.exception("webhook delivery %s could not be recorded", delivery.id)
        finally:
            self._slots.release()
            self._wake.set()

    async def _post(self, delivery: ClaimedDelivery) -> tuple[int | None, str | None]:
        assert self._client is not None
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "X-Cunxiang-Event": delivery.event,
            "X-Cunxiang-Delivery": delivery.id,
            "X-Cunxiang-Signature": webhooks.sign(delivery.body, delivery.secret),
        }
        try:
            response = await self._client.post(delivery.url, content=delivery.body,
                                               headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    @staticmethod
    def _record(delivery: ClaimedDelivery, status: int | None, error: str | None) -> None:
        with session_scope() as session:
            if error is None and status is not None:
                webhooks.record_success(session=session, delivery_id=delivery.id,
                                        status_code=status)
            else:
                webhooks.record_failure(session=session, delivery_id=delivery.id,
                                        status_code=status, error=error or "failed")


async def start_webhook_worker(app: FastAPI) -> None:
    """Lifespan start: a webhook worker for this process, kept on ``app.state``."""
    worker = WebhookWorker()
    await worker.start()
    app.state.webhook_worker = worker


async def stop_webhook_worker(app: FastAPI) -> None:
    """Lifespan stop: stop this process's webhook worker."""
    worker: WebhookWorker | None = getattr(app.state, "webhook_worker", None)
    if worker is not None:
        await worker.stop()
        app.state.webhook_worker = None
