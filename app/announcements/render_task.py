"""What a render worker process runs: one revision's script → a stored MP3 (no database here).

The spec carries everything the child needs (the media store, engine and its options), so
a worker process never reads the environment: it may have been forked long before the
settings it would find there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from app.rendering.cache import cache_key
from app.rendering.engines import make_engine
from app.rendering.normalize import NORMALIZER_VERSION
from app.rendering.render import RENDER_VERSION, render_script
from app.storage.backend import MediaConfig, open_store

__all__ = ["RenderSpec", "RenderedAudio", "render_revision"]


@dataclass(frozen=True)
class RenderSpec:
    """One render: the script, the engine by name with its options, and where to store it.

    ``lexicon``: the staff pronunciations that apply in the announcement's area, farthest
    area first (the nearest wins).
    """

    text: str
    media: MediaConfig
    engine: str
    options: dict[str, Any] = field(default_factory=dict)
    lexicon: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """What the render makes depends on this alone (not on where it is stored): jobs
        with the same key make the same file."""
        return cache_key("revision", f"v{RENDER_VERSION}.{NORMALIZER_VERSION}", self.engine,
                         json.dumps(self.options, sort_keys=True), self.text,
                         json.dumps(self.lexicon, ensure_ascii=False))


@dataclass(frozen=True)
class RenderedAudio:
    """The stored MP3: its hash, size, length and measured loudness."""

    sha256: str
    size_bytes: int
    duration_ms: int
    loudness_lufs: float


def render_revision(spec: RenderSpec) -> RenderedAudio:
    """Render a script to a loudness-normalised mono MP3 in the store (cached by text)."""
    store = open_store(spec.media)
    result = render_script(
        spec.text, engine=make_engine(spec.engine, **spec.options), media_store=store, chime=False,
        lexicon=spec.lexicon,
    )
    return RenderedAudio(
        sha256=result.sha256,
        size_bytes=result.path.stat().st_size,
        duration_ms=result.duration_ms,
        loudness_lufs=result.loudness_lufs,
    )
