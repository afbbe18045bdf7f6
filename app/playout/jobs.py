"""Leader-only job of playout: orders no terminal confirmed by ``not_after`` become ``missed``.

(Pruning old receipts and heartbeats is the maintenance part's retention job.)
"""

from __future__ import annotations

import logging

from app.db import session_scope, utcnow
from app.playout.service import mark_missed_orders
from app.runtime.chunked import Pacer

__all__ = ["mark_missed", "MARK_MISSED_EVERY_S"]

log = logging.getLogger(__name__)


MARK_MISSED_EVERY_S = 30
# Orders ended per transaction: a slot over 16,000 villages ends 16,000 orders at once.
BATCH = 2000


def mark_missed() -> None:
    """Every 30 s: issued orders past their ``not_after`` end as ``missed`` (or ``failed``),
    a batch per short transaction so that no urgent write waits long behind them."""
    totals = {"missed": 0, "failed": 0}
    pacer, now = Pacer(), utcnow()
    while True:
        with session_scope() as session:
            counts = mark_missed_orders(session=session, now=now, limit=BATCH)
        for state, count in counts.items():
            totals[state] += count
        if sum(counts.values()) < BATCH:
            break
        pacer.breathe()
    if any(totals.values()):
        log.info("orders ended unconfirmed: %s", totals)
