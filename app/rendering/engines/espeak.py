"""The default engine: espeak-ng's Mandarin voice fed with tone-numbered pinyin.

Plain ``cmn`` would read Han characters with its own dictionary; the ``cmn-latn-pinyin``
voice reads pinyin, so the phrase-aware conversion in ``pinyin.py`` decides polyphones.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from app.rendering.errors import SynthesisFailed
from app.rendering.normalize import Segment
from app.rendering.pinyin import syllables
from app.rendering.polyphones import reading_version

__all__ = ["EspeakEngine", "passage_markup"]


def passage_markup(segments: Sequence[Segment]) -> str:
    """SSML for espeak: each segment's pinyin, then a break as long as its pause."""
    parts: list[str] = []
    for index, segment in enumerate(segments):
        words = " ".join(syllables(segment.text))
        if not words:
            continue
        parts.append(words)
        if index < len(segments) - 1:
            parts.append(f'<break time="{segment.pause_ms}ms"/>')
    return "<speak>" + " ".join(parts) + "</speak>"


@dataclass(frozen=True)
class EspeakEngine:
    """espeak-ng speaking pinyin; ``rate`` in words per minute, ``pitch`` 0–99."""

    voice: str = "cmn-latn-pinyin"
    rate: int = 165
    pitch: int = 50
    executable: str = "espeak-ng"
    timeout_s: float = 120.0
    name: ClassVar[str] = "espeak"

    @property
    def identity(self) -> str:
        """Engine, voice and settings: what the speech cache is keyed by."""
        return (f"{self.name}|{self.voice}|rate={self.rate}|pitch={self.pitch}"
                f"|pinyin={reading_version()}")

    def synthesize(self, text: str) -> bytes:
        """WAV of normalised text."""
        return self.synthesize_passage([Segment(text, 0)])

    def synthesize_passage(self, segments: Sequence[Segment]) -> bytes:
        """WAV of several segments in one espeak-ng run, pauses as SSML breaks."""
        return self._run(passage_markup(segments))

    def _run(self, markup: str) -> bytes:
        command = [
            self.executable,
            "-v",
            self.voice,
            "-s",
            str(self.rate),
            "-p",
            str(self.pitch),
            "-m",
            "--stdin",
            "--stdout",
        ]
        try:
            result = subprocess.run(
                command,
                input=markup.encode("utf-8"),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SynthesisFailed(f"espeak-ng could not run: {exc}") from exc
        if result.returncode != 0 or not result.stdout.startswith(b"RIFF"):
            detail = result.stderr.decode("utf-8", "replace").strip()[-300:]
            raise SynthesisFailed(f"espeak-ng failed ({result.returncode}): {detail}")
        return result.stdout

