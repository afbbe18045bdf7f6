"""Script → announcement MP3: normalise, synthesise (cached), chimes, master, store.

``render_script`` is the one function the API's render worker and the CLI both call. Its
arguments and result pickle, so it runs as is in a ``ProcessPoolExecutor``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from app.rendering.cache import RenderCache, cache_key
from app.rendering.chimes import load_chime
from app.rendering.engines import Engine, engine_identity, make_engine
from app.rendering.errors import EmptyScript
from app.rendering.lexicon import Applied, Lexicon, apply_pronunciations
from app.rendering.normalize import NORMALIZER_VERSION, normalize_text, split_segments
from app.rendering.pcm import apply_gain, rms_dbfs, silence
from app.rendering.pipeline import TARGET_LUFS, Mastered, master_to_mp3
from app.rendering.speech import speak_segments
from app.storage.store import MediaBackend

__all__ = [
    "RenderResult",
    "render_script",
    "master_script",
    "default_cache_dir",
    "cached_result",
    "store_mastered",
    "resolve_engine",
    "with_chimes",
    "DRILL_OPENING",
    "DRILL_CLOSING",
    "RENDER_VERSION",
]

#: Bump when rendering changes in a way that must not reuse earlier results.
RENDER_VERSION = 1
DRILL_OPENING = "演习，演习！以下是演习内容。"
DRILL_CLOSING = "以上是演习内容，演习结束。"
CHIME_GAP_MS = 500
# The chime sits a little under the speech so it calls attention without startling.
CHIME_BELOW_SPEECH_DB = 3.0


@dataclass(frozen=True, slots=True)
class RenderResult:
    """A stored announcement MP3: content hash, file, length and loudness.

    ``cached`` is True when nothing was rendered: an identical earlier result was found.
    """

    sha256: str
    path: Path
    duration_ms: int
    loudness_lufs: float
    cached: bool = False


def default_cache_dir(media_store: MediaBackend) -> Path:
    """Where rendering caches live unless told otherwise: ``<media dir>/cache``."""
    return media_store.root / "cache"


def resolve_engine(engine: Engine | str) -> Engine:
    """An engine instance, building it by registry name if a name is given."""
    return make_engine(engine) if isinstance(engine, str) else engine


def with_chimes(body: bytes, chime_dir: str | os.PathLike[str] | None = None) -> bytes:
    """Opening chime, gap, body, gap, closing chime; chimes set just under the body's level."""
    opening, closing = load_chime("opening", chime_dir), load_chime("closing", chime_dir)
    gain = rms_dbfs(body) - CHIME_BELOW_SPEECH_DB - rms_dbfs(opening)
    if gain != gain or abs(gain) == float("inf"):  # silent body: leave the chimes as made
        gain = 0.0
    gap = silence(CHIME_GAP_MS)
    return b"".join((apply_gain(opening, gain), gap, body, gap, apply_gain(closing, gain)))


def _render_key(applied: Applied, engine: Engine, *, chime: bool, drill: bool) -> str:
    return cache_key(
        "script",
        f"v{RENDER_VERSION}.{NORMALIZER_VERSION}",
        engine_identity(engine),
        f"chime={chime}",
        f"drill={drill}",
        f"target={TARGET_LUFS}",
        f"lexicon={applied.version}",
        applied.text,
    )


def cached_result(cache: RenderCache, key: str, store: MediaBackend) -> RenderResult | None:
    """A previous render of the same thing whose MP3 is still stored."""
    record = cache.get_render(key) or {}
    sha256 = str(record.get("sha256", ""))
    path = store.local_path(sha256) if record else None
    if path is None:
        return None
    return RenderResult(
        sha256,
        path,
        int(record["duration_ms"]),
        float(record["loudness_lufs"]),
        cached=True,
    )


def store_mastered(
    mastered: Mastered, *, media_store: MediaBackend, cache: RenderCache, key: str
) -> RenderResult:
    """Put the MP3 in the store and remember the render under ``key``."""
    stored = media_store.put_bytes(mastered.mp3)
    record = {
        "sha256": stored.sha256,
        "duration_ms": mastered.duration_ms,
        "loudness_lufs": mastered.loudness_lufs,
    }
    cache.put_render(key, record)
    return RenderResult(stored.sha256, stored.path, mastered.duration_ms, mastered.loudness_lufs)


def render_script(
    text: str,
    *,
    engine: Engine | str = "espeak",
    media_store: MediaBackend,
    chime: bool = True,
    drill: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
    chime_dir: str | os.PathLike[str] | None = None,
    lexicon: Lexicon = (),
) -> RenderResult:
    """Render a script to a loudness-normalised mono MP3 in ``media_store``.

    ``drill=True`` opens and closes with the spoken drill notice; ``lexicon`` holds staff
    pronunciations (inline hints in the script always apply). The same script with the same
    engine, options and applicable pronunciations is a file lookup the second time.
    """
    speaker = resolve_engine(engine)
    cache = RenderCache(cache_dir if cache_dir is not None else default_cache_dir(media_store))
    applied = apply_pronunciations(text, lexicon)
    key = _render_key(applied, speaker, chime=chime, drill=drill)
    found = cached_result(cache, key, media_store)
    if found is not None:
        return found
    mastered = master_script(applied.text, engine=speaker, cache=cache, chime=chime, drill=drill,
                             chime_dir=chime_dir)
    return store_mastered(mastered, media_store=media_store, cache=cache, key=key)


def master_script(
    spoken: str,
    *,
    engine: Engine,
    cache: RenderCache,
    chime: bool = False,
    drill: bool = False,
    chime_dir: str | os.PathLike[str] | None = None,
) -> Mastered:
    """Speech (cached per unit), chimes and mastering of a script whose pronunciations are set.

    Nothing is stored: ``render_script`` stores the result, a preview keeps it for a while.
    """
    script = f"{DRILL_OPENING}\n{spoken}\n{DRILL_CLOSING}" if drill else spoken
    segments = split_segments(normalize_text(script))
    if not segments:
        raise EmptyScript("the script has nothing to read aloud")
    speech = speak_segments(segments, engine=engine, cache=cache)
    program = with_chimes(speech, chime_dir) if chime else speech
    return master_to_mp3(program)
