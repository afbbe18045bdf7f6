"""Leader-only jobs of playout: orders nobody confirmed become ``missed``; old receipts go."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import delete

from app.config import get_settings
from app.db import session_scope, utcnow
from app.playout.receipts_models import PlayReceipt
from app.playout.service import mark_missed_orders
from app.schedules.scheduler import leader_job
from app.speakers.models import SpeakerHeartbeat

__all__ = ["mark_missed", "prune_history"]

log = logging.getLogger(__name__)


@leader_job("playout.mark_missed", seconds=30)
def mark_missed() -> None:
    """Every 30 s: issued orders past their ``not_after`` end as ``missed`` (or ``failed``)."""
    with session_scope() as session:
        counts = mark_missed_orders(session=session)
    if any(counts.values()):
        log.info("orders ended unconfirmed: %s", counts)


@leader_job("playout.prune_history", seconds=3600)
def prune_history() -> None:
    """Hourly: receipts and heartbeats older than CUNXIANG_RETENTION_DAYS are deleted."""
    cutoff = utcnow() - timedelta(days=get_settings().retention_days)
    with session_scope() as session:
        receipts = session.execute(delete(PlayReceipt).where(PlayReceipt.received_at < cutoff))
        beats = session.execute(delete(SpeakerHeartbeat).where(SpeakerHeartbeat.at < cutoff))
    if receipts.rowcount or beats.rowcount:  # type: ignore[attr-defined]
        log.info("pruned %s receipt(s) and %s heartbeat(s) before %s",
                 receipts.rowcount, beats.rowcount, cutoff)  # type: ignore[attr-defined]
