"""Listening previews: a script rendered by the same pipeline, kept for an hour, never cached.

A preview is mastered exactly as the approved audio would be (the speech units land in the
same speech cache, so approving right after is quick), but it is written under
``<media dir>/previews/`` by a random name instead of the content store, records no render
result and no media row, and is deleted once ``PREVIEW_TTL`` has passed.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.config import get_settings
from app.errors import AppError
from app.rendering.cache import RenderCache
from app.rendering.engines import engine_options, make_engine
from app.rendering.errors import RenderingError
from app.rendering.lexicon import Lexicon, apply_pronunciations
from app.rendering.pinyin import to_pinyin_lines
from app.rendering.render import DRILL_CLOSING, DRILL_OPENING, default_cache_dir, master_script
from app.storage.store import MediaStore

__all__ = ["Preview", "make_preview", "preview_path", "PREVIEW_TTL", "PREVIEW_DIR_NAME"]

PREVIEW_TTL = timedelta(hours=1)
PREVIEW_DIR_NAME = "previews"
_NAME = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


@dataclass(frozen=True)
class Preview:
    """A stored preview: its id, what it said and how long it lasts."""

    id: str
    pinyin: str
    duration_ms: int
    expires_at: datetime

    @property
    def url(self) -> str:
        """Where the API serves it."""
        return f"/api/v1/previews/{self.id}.mp3"


def _directory() -> Path:
    return get_settings().media_dir / PREVIEW_DIR_NAME


def preview_path(preview_id: str) -> Path | None:
    """The file of a preview that still exists (None for a malformed or expired id)."""
    if not _NAME.match(preview_id):
        return None
    path = _directory() / f"{preview_id}.mp3"
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return None
    return path if age < PREVIEW_TTL.total_seconds() else None


def _prune(directory: Path) -> None:
    """Delete previews past their time (each new preview sweeps the folder)."""
    cutoff = time.time() - PREVIEW_TTL.total_seconds()
    for path in directory.glob("*"):
        with contextlib.suppress(OSError):
            if path.stat().st_mtime < cutoff:
                path.unlink()


def make_preview(text: str, lexicon: Lexicon = (), *, drill: bool = False) -> Preview:
    """Render ``text`` with the configured engine and keep the MP3 for ``PREVIEW_TTL``."""
    settings = get_settings()
    engine = make_engine(settings.tts_engine, **engine_options(
        settings.tts_engine, voice=settings.tts_voice, command=settings.tts_command))
    entries: tuple[tuple[str, str], ...] = tuple(
        lexicon.items() if isinstance(lexicon, Mapping) else lexicon)
    applied = apply_pronunciations(text, entries)
    store = MediaStore(settings.media_dir)
    cache = RenderCache(default_cache_dir(store))
    try:
        mastered = master_script(applied.text, engine=engine, cache=cache, drill=drill)
    except RenderingError as exc:  # e.g. 422 empty_script: only punctuation or control marks
        # Its HTTP form, as app.announcements.recordings.as_app_error makes it (announcements
        # stand above this part: they read its lexicons).
        raise AppError(exc.message, code=exc.code, status=exc.status) from None
    directory = _directory()
    _prune(directory)
    preview_id = secrets.token_urlsafe(18)
    store.write_atomically(directory / f"{preview_id}.mp3", lambda out: out.write(mastered.mp3))
    said = f"{DRILL_OPENING}\n{text}\n{DRILL_CLOSING}" if drill else text
    pinyin = "\n".join(line for line in to_pinyin_lines(said, entries) if line)
    return Preview(preview_id, pinyin, mastered.duration_ms,
                   datetime.now(UTC) + PREVIEW_TTL)
