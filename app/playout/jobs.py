"""Leader-only job of playout: orders no terminal confirmed by ``not_after`` become ``missed``.

(Pruning old receipts and heartbeats is the maintenance part's retention job.)
"""

from __future__ import annotations

import logging

from app.db import session_scope
from app.playout.service import mark_missed_orders
from app.schedules.scheduler import leader_job

__all__ = ["mark_missed"]

log = logging.getLogger(__name__)


@leader_job("playout.mark_missed", seconds=30)
def mark_missed() -> None:
    """Every 30 s: issued orders past their ``not_after`` end as ``missed`` (or ``failed``)."""
    with session_scope() as session:
        counts = mark_missed_orders(session=session)
    if any(counts.values()):
        log.info("orders ended unconfirmed: %s", counts)
