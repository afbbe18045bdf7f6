"""Speech for a whole script: cut into units, synthesise what is not cached, join with pauses.

A unit is one segment for a plain engine, or a run of segments up to a sentence end for
an engine that speaks pauses itself (espeak: one process per unit instead of per clause).
Units are cached by (engine, voice, text) and missing ones are synthesised in parallel.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from app.rendering.cache import RenderCache, cache_key
from app.rendering.engines import Engine, PassageEngine, engine_identity
from app.rendering.errors import SynthesisFailed
from app.rendering.normalize import PAUSE_PARAGRAPH_MS, PAUSE_SENTENCE_MS, Segment
from app.rendering.pcm import silence, wav_to_pcm

__all__ = ["Unit", "plan_units", "speak_segments", "UNIT_TARGET_CHARS", "UNIT_MAX_CHARS"]

# A passage unit closes at the first sentence end past UNIT_TARGET_CHARS, or at any
# boundary past UNIT_MAX_CHARS: small enough to spread over cores and to keep an edit
# from re-synthesising a whole paragraph, big enough that process start-up stays minor.
UNIT_TARGET_CHARS = 200
UNIT_MAX_CHARS = 400


@dataclass(frozen=True, slots=True)
class Unit:
    """Segments synthesised together, and the pause after the last of them."""

    segments: tuple[Segment, ...]

    @property
    def pause_ms(self) -> int:
        """The pause after the unit: that of its last segment."""
        return self.segments[-1].pause_ms

    def markup(self) -> str:
        """The unit's text with inner pauses, as it enters the cache key."""
        inner = [f"{s.text}<{s.pause_ms}>" for s in self.segments[:-1]]
        return "".join(inner) + self.segments[-1].text


def plan_units(segments: Sequence[Segment], *, passages: bool) -> list[Unit]:
    """Group segments into synthesis units (one each unless the engine speaks passages)."""
    if not passages:
        return [Unit((segment,)) for segment in segments]
    units: list[Unit] = []
    current: list[Segment] = []
    length = 0
    for segment in segments:
        current.append(segment)
        length += len(segment.text)
        sentence_end = segment.pause_ms >= PAUSE_SENTENCE_MS
        if (
            segment.pause_ms >= PAUSE_PARAGRAPH_MS
            or (sentence_end and length >= UNIT_TARGET_CHARS)
            or length >= UNIT_MAX_CHARS
        ):
            units.append(Unit(tuple(current)))
            current, length = [], 0
    if current:
        units.append(Unit(tuple(current)))
    return units


def _synthesize(engine: Engine, unit: Unit) -> bytes:
    """PCM of one unit from the engine."""
    if len(unit.segments) > 1 and isinstance(engine, PassageEngine):
        wav = engine.synthesize_passage(unit.segments)
    else:
        wav = engine.synthesize(unit.segments[0].text)
    pcm = wav_to_pcm(wav)
    if not pcm:
        raise SynthesisFailed(f"the {engine.name} engine produced no audio")
    return pcm


def _workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def speak_segments(segments: Sequence[Segment], *, engine: Engine, cache: RenderCache) -> bytes:
    """PCM of all segments with their pauses; each unit synthesised at most once, ever."""
    units = plan_units(segments, passages=isinstance(engine, PassageEngine))
    identity = engine_identity(engine)
    keys = [cache_key(identity, unit.markup()) for unit in units]
    audio: dict[str, bytes] = {}
    missing: dict[str, Unit] = {}
    for key, unit in zip(keys, units, strict=True):
        cached = cache.get_speech(key)
        if cached is not None:
            audio[key] = cached
        else:
            missing[key] = unit
    if missing:
        with ThreadPoolExecutor(max_workers=min(_workers(), len(missing))) as pool:
            made = pool.map(lambda unit: _synthesize(engine, unit), missing.values())
            for key, pcm in zip(missing, made, strict=True):
                cache.put_speech(key, pcm)
                audio[key] = pcm
    pieces: list[bytes] = []
    for index, (key, unit) in enumerate(zip(keys, units, strict=True)):
        pieces.append(audio[key])
        if index < len(units) - 1:
            pieces.append(silence(unit.pause_ms))
    return b"".join(pieces)
