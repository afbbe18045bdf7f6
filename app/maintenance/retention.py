"""Retention: heartbeat history and play receipts older than ``CUNXIANG_RETENTION_DAYS`` go.

Tickets, outages and the audit log are kept. The render cache (synthesised speech, render
records) loses what was not used for ``CUNXIANG_RENDER_CACHE_DAYS``; stored media stay.
Rows are deleted in batches, each its own short transaction, so a year of history never
holds a long lock on a busy database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from app.config import get_settings
from app.db import session_scope, utcnow
from app.media.service import media_store
from app.playout.receipts_models import PlayReceipt
from app.rendering.cache import PruneResult, RenderCache
from app.rendering.render import default_cache_dir
from app.runtime.chunked import Pacer
from app.speakers.models import SpeakerHeartbeat

__all__ = ["PruneReport", "prune_history", "prune_render_cache", "run_retention", "BATCH",
           "RETENTION_EVERY_S"]

log = logging.getLogger(__name__)

BATCH = 5000
RETENTION_EVERY_S = 86400


@dataclass(frozen=True)
class PruneReport:
    """How many rows one pruning removed, and the cut-off it used."""

    cutoff: datetime
    heartbeats: int
    receipts: int


def _prune(model: Any, stamp: Any, cutoff: datetime, batch: int) -> int:
    removed, pacer = 0, Pacer()
    while True:
        if removed:
            pacer.breathe()  # other writers get in between two batches
        with session_scope() as session:
            ids = session.scalars(select(model.id).where(stamp < cutoff).limit(batch)).all()
            if not ids:
                return removed
            session.execute(delete(model).where(model.id.in_(ids))
                            .execution_options(synchronize_session=False))
        removed += len(ids)
        if len(ids) < batch:
            return removed


def prune_history(*, now: datetime | None = None, batch: int = BATCH) -> PruneReport:
    """Delete heartbeats and receipts older than the retention period; returns the counts."""
    cutoff = (now or utcnow()) - timedelta(days=get_settings().retention_days)
    heartbeats = _prune(SpeakerHeartbeat, SpeakerHeartbeat.at, cutoff, batch)
    receipts = _prune(PlayReceipt, PlayReceipt.received_at, cutoff, batch)
    return PruneReport(cutoff=cutoff, heartbeats=heartbeats, receipts=receipts)


def prune_render_cache() -> PruneResult:
    """Remove render-cache entries unused for ``CUNXIANG_RENDER_CACHE_DAYS``."""
    cache = RenderCache(default_cache_dir(media_store()))
    return cache.prune(unused_for_s=get_settings().render_cache_days * 86400)


def run_retention() -> None:
    """The daily pruning on the lease holder (also once when a process becomes leader)."""
    report = prune_history()
    if report.heartbeats or report.receipts:
        log.info("retention: removed %d heartbeat(s) and %d receipt(s) older than %s",
                 report.heartbeats, report.receipts, report.cutoff.isoformat())
    cache = prune_render_cache()
    if cache.files:
        log.info("retention: removed %d unused render-cache file(s), %.1f MB",
                 cache.files, cache.bytes / 1e6)
