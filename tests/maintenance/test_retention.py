"""Retention: old heartbeats and receipts are pruned in batches; tickets and the audit log stay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.maintenance.conftest import T0, Fleet

AGES = [401, 400.5, 399, 30, 0]  # days; the default retention is 400


def _count(model: Any) -> int:
    from app.db import session_scope

    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _history(speaker_id: str) -> None:
    """A heartbeat and a play receipt at each of AGES."""
    from app.db import session_scope
    from app.playout.models import PlayOrder
    from app.playout.receipts_models import PlayReceipt
    from app.speakers.models import SpeakerHeartbeat

    with session_scope() as session:
        for days in AGES:
            at = T0 - timedelta(days=days)
            order = PlayOrder(kind="routine", village_code="v11", start_at=at, not_after=at,
                              media=[], state="played")
            session.add(order)
            session.flush()
            session.add(SpeakerHeartbeat(speaker_id=speaker_id, at=at, received_at=at,
                                         status="ok", power="mains"))
            session.add(PlayReceipt(order_id=order.id, speaker_id=speaker_id,
                                    village_code="v11", event="finished", at=at, received_at=at))


def test_history_older_than_the_retention_period_is_pruned_in_batches(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet
) -> None:
    from app.audit.models import AuditEntry
    from app.maintenance.models import Ticket
    from app.maintenance.retention import prune_history
    from app.playout.receipts_models import PlayReceipt
    from app.speakers.models import SpeakerHeartbeat

    speaker = fleet.register("v11")
    client.post("/api/v1/outages", headers=admin, json={"speaker": speaker.id, "cause": "other"})
    _history(speaker.id)
    heartbeats, receipts = _count(SpeakerHeartbeat), _count(PlayReceipt)
    audit = _count(AuditEntry)

    report = prune_history(batch=1)  # one row per transaction: the batching loop must finish
    assert (report.heartbeats, report.receipts) == (2, 2)
    assert _count(SpeakerHeartbeat) == heartbeats - 2 and _count(PlayReceipt) == receipts - 2
    assert _count(Ticket) == 1 and _count(AuditEntry) == audit
    again = prune_history()
    assert (again.heartbeats, again.receipts) == (0, 0)


def test_the_daily_job_also_prunes_the_render_cache(env: dict[str, str]) -> None:
    import os
    import time

    from app.maintenance.retention import run_retention
    from app.media.service import media_store
    from app.rendering.cache import RenderCache, cache_key
    from app.rendering.render import default_cache_dir

    cache = RenderCache(default_cache_dir(media_store()))
    old, recent = cache_key("old"), cache_key("recent")
    for key in (old, recent):
        cache.put_render(key, {"sha256": key})
    stale = time.time() - 31 * 86400  # the default keeps 30 days
    os.utime(cache.root / "renders" / old[:2] / f"{old}.json", (stale, stale))
    run_retention()
    assert cache.get_render(old) is None
    assert cache.get_render(recent) == {"sha256": recent}
