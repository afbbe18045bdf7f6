"""Each node's own disk with shared media: local copies and the render cache, pruned daily.

With ``CUNXIANG_MEDIA_URL`` every node keeps copies of the files it stored or served and
its own render cache. The object store keeps every file, so a copy unused for
``CUNXIANG_RENDER_CACHE_DAYS`` is removed (fetched again if asked for), and so are the
render cache's unused entries — on every node, not only on the scheduler's (the daily
retention job prunes the lease holder's alone). Media on local disk need none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from app.config import get_settings
from app.media.service import media_store
from app.rendering.cache import RenderCache
from app.rendering.render import default_cache_dir

__all__ = ["prune_node_media", "start_media_housekeeping", "stop_media_housekeeping",
           "FIRST_PRUNE_S", "PRUNE_EVERY_S"]

log = logging.getLogger(__name__)

FIRST_PRUNE_S = 60.0  # not during start-up, but also on nodes restarted more than daily
PRUNE_EVERY_S = 86400.0


def prune_node_media() -> tuple[int, int]:
    """Remove this node's unused copies and render-cache entries; (copies, cache files)."""
    store = media_store()
    unused_for = get_settings().render_cache_days * 86400
    prune_copies = getattr(store, "prune_copies", None)
    copies = prune_copies(unused_for_s=unused_for) if prune_copies is not None else 0
    cache = RenderCache(default_cache_dir(store)).prune(unused_for_s=unused_for)
    if copies or cache.files:
        log.info("media housekeeping: removed %d local cop(ies) and %d render-cache file(s)",
                 copies, cache.files)
    return copies, cache.files


async def _run(stop: asyncio.Event) -> None:
    delay = FIRST_PRUNE_S
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return
        try:
            await asyncio.to_thread(prune_node_media)
        except Exception:  # a disk hiccup must not end the loop: try again tomorrow
            log.exception("media housekeeping failed")
        delay = PRUNE_EVERY_S


def start_media_housekeeping(app: FastAPI) -> None:
    """Lifespan start: the daily pruning, when media are shared (else nothing to do)."""
    app.state.media_housekeeping = None
    if get_settings().media_url:
        stop = asyncio.Event()
        app.state.media_housekeeping = (stop, asyncio.get_running_loop().create_task(_run(stop)))


async def stop_media_housekeeping(app: FastAPI) -> None:
    """Lifespan stop: end the loop."""
    running = getattr(app.state, "media_housekeeping", None)
    if running is not None:
        stop, task = running
        stop.set()
        await task
