"""The webhook worker: started with the app in every process, it sends queued deliveries.

It is a :class:`~app.runtime.worker.ClaimedRowWorker` over the delivery queue
(:mod:`app.maintenance.webhooks`): it sleeps until this process queues a delivery
(``webhook.queued``, heard after the commit) or for ``POLL_S`` (retries coming due, rows
queued by other processes). Database calls run in threads; sends are async with short
timeouts, each in its own task, so a dead receiver holds one slot for a few seconds and never
the API or other receivers.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from app import __version__
from app.db import session_scope
from app.maintenance import webhooks
from app.maintenance.webhooks import ClaimedDelivery
from app.runtime.worker import ClaimedRowWorker

__all__ = ["WebhookWorker", "POLL_S", "TIMEOUT"]

log = logging.getLogger(__name__)

POLL_S = 1.0
TIMEOUT = httpx.Timeout(5.0, connect=3.0)
CONCURRENCY = 16


class WebhookWorker(ClaimedRowWorker[ClaimedDelivery]):
    """Claims due deliveries and POSTs up to ``concurrency`` of them at a time."""

    name = "webhook-worker"

    def __init__(self, *, concurrency: int = CONCURRENCY) -> None:
        super().__init__(concurrency=concurrency, poll_s=POLL_S)
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        """Start sending."""
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False,
            headers={"User-Agent": f"cunxiang-webhooks/{__version__}"},
        )
        await super().start()

    async def stop(self) -> None:
        """Stop sending; a delivery cut short is sent again once its claim runs out."""
        await super().stop()
        if self._client is not None:
            await self._client.aclose()

    def claim(self, limit: int) -> list[ClaimedDelivery]:
        """Claim up to ``limit`` due deliveries in one transaction."""
        with session_scope() as session:
            return webhooks.claim_due(session=session, limit=limit)

    async def handle(self, delivery: ClaimedDelivery) -> None:
        """POST one delivery and record how it went."""
        try:
            status, error = await self._post(delivery)
            await asyncio.to_thread(self._record, delivery, status, error)
        except asyncio.CancelledError:
            raise
        except Exception:  # recording failed: the claim runs out and the row is retried
            log.exception("webhook delivery %s could not be recorded", delivery.id)

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
