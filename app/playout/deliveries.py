"""Which orders reached a terminal, and when: ``first_fetched_at``, written in batches.

Answering a long-poll must not write to the database: when a change wakes every
terminal of many villages at once, a write per answer would queue them all behind the
database's write lock. Delivered order ids are noted in memory and a background task
records them every half second (only the first delivery of an order counts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable
from datetime import datetime

from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import session_scope, utcnow
from app.playout.models import PlayOrder

__all__ = ["DeliveryLog", "record_deliveries", "start_delivery_log", "stop_delivery_log"]

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.5
_CHUNK = 500


def record_deliveries(*, session: Session, delivered: dict[str, datetime]) -> None:
    """Set ``first_fetched_at`` of each order that has none yet."""
    by_time: dict[datetime, list[str]] = {}
    for order_id, at in delivered.items():
        by_time.setdefault(at, []).append(order_id)
    for at, ids in by_time.items():
        for start in range(0, len(ids), _CHUNK):
            session.execute(
                update(PlayOrder)
                .where(PlayOrder.id.in_(ids[start:start + _CHUNK]),
                       PlayOrder.first_fetched_at.is_(None))
                .values(first_fetched_at=at).execution_options(synchronize_session=False))


class DeliveryLog:
    """Order ids delivered since the last flush, with when they were first delivered."""

    def __init__(self) -> None:
        self._pending: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def add(self, order_ids: Iterable[str], at: datetime | None = None) -> None:
        """Note that these orders were just delivered."""
        moment = at or utcnow()
        with self._lock:
            for order_id in order_ids:
                self._pending.setdefault(order_id, moment)

    def flush(self) -> int:
        """Write what is pending (blocking); returns how many orders."""
        with self._lock:
            batch, self._pending = self._pending, {}
        if batch:
            try:
                with session_scope() as session:
                    record_deliveries(session=session, delivered=batch)
            except BaseException:
                self.add_all(batch)
                raise
        return len(batch)

    def add_all(self, batch: dict[str, datetime]) -> None:
        """Put a batch back (its write failed)."""
        with self._lock:
            for order_id, at in batch.items():
                self._pending.setdefault(order_id, at)


async def _run(deliveries: DeliveryLog, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), FLUSH_INTERVAL_S)
        try:
            await asyncio.to_thread(deliveries.flush)
        except Exception:  # the database may be briefly away; the batch waits for the next
            log.exception("recording deliveries failed; will retry")


def start_delivery_log(app: FastAPI) -> None:
    """Lifespan start: the app's delivery log and its flushing task."""
    app.state.deliveries = DeliveryLog()
    app.state.deliveries_stop = asyncio.Event()
    app.state.deliveries_task = asyncio.get_running_loop().create_task(
        _run(app.state.deliveries, app.state.deliveries_stop))


async def stop_delivery_log(app: FastAPI) -> None:
    """Lifespan stop: end the task and write what is pending."""
    stop = getattr(app.state, "deliveries_stop", None)
    if stop is None:
        return
    stop.set()
    await app.state.deliveries_task
    await asyncio.to_thread(app.state.deliveries.flush)
