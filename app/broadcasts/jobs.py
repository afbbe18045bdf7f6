"""The broadcasts' leader job: expire what has run out, finish what every village ended, purge keys.

Receipts finish a broadcast as they arrive (``receipts.recorded``); this sweep is the
backstop for receipts that raced each other, and the only place broadcasts expire.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from app.broadcasts.models import Broadcast
from app.broadcasts.service import expire_due, finish_if_done, purge_idempotency_keys
from app.db import session_scope, utcnow

__all__ = ["sweep_broadcasts", "SWEEP_SECONDS"]

log = logging.getLogger(__name__)

SWEEP_SECONDS = 5


def sweep_broadcasts() -> dict[str, list[str]]:
    """One pass: finished and expired broadcast ids (idempotent; any process may run it)."""
    now = utcnow()
    with session_scope() as session:
        active = list(session.scalars(select(Broadcast.id).where(Broadcast.status == "active")))
        finished = finish_if_done(session, active)
        expired = expire_due(session, now)
        purge_idempotency_keys(session, now)
    if finished or expired:
        log.info("broadcasts: %d finished, %d expired", len(finished), len(expired))
    return {"finished": finished, "expired": expired}
