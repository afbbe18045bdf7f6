"""Each node's own disk with shared media: local copies and the render cache, pruned daily.

With ``CUNXIANG_MEDIA_URL`` every node keeps copies of the files it stored or served and
its own render cache. The object store keeps every file, so a copy unused for
``CUNXIANG_RENDER_CACHE_DAYS`` is removed (fetched again if asked for), and so are the
render cache's unused entries — on every node, not only on the scheduler's (the daily
retention job prunes the lease holder's alone). Media on local disk need none of this.
"""

from __future__ import annotations

import logging

from app.config import get_settings
from app.media.service import media_store
from app.rendering.cache import RenderCache
from app.rendering.render import default_cache_dir
from app.runtime.services import PeriodicTask

__all__ = ["prune_node_media", "MediaHousekeeping", "FIRST_PRUNE_S", "PRUNE_EVERY_S"]

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


class MediaHousekeeping(PeriodicTask):
    """The daily pruning of this node's copies and render cache, when media are shared (else
    starting it does nothing)."""

    def __init__(self) -> None:
        super().__init__("media housekeeping", prune_node_media, every_s=PRUNE_EVERY_S,
                         first_after_s=FIRST_PRUNE_S)

    async def start(self) -> None:
        """Start the daily pruning if ``CUNXIANG_MEDIA_URL`` is set."""
        if get_settings().media_url:
            await super().start()
