"""Which orders reached a terminal, and when: ``first_fetched_at``, written in batches.

Answering a long-poll must not write to the database: when a change wakes every
terminal of many villages at once, a write per answer would queue them all behind the
database's write lock. Delivered order ids are noted in memory (:class:`DeliveryLog`) and
the :class:`DeliveryRecorder` service writes them every half second (only the first delivery
of an order counts), and what is left when it stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import session_scope, utcnow
from app.playout.models import PlayOrder
from app.runtime.services import PeriodicTask

__all__ = ["DeliveryLog", "DeliveryRecorder", "record_deliveries", "FLUSH_INTERVAL_S"]

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


class DeliveryRecorder(PeriodicTask):
    """The service writing a :class:`DeliveryLog` every ``FLUSH_INTERVAL_S``, and at the end."""

    def __init__(self) -> None:
        self.deliveries = DeliveryLog()
        super().__init__("recording deliveries", self.deliveries.flush,
                         every_s=FLUSH_INTERVAL_S, final=self.deliveries.flush)
