"""The attention chimes played before and after an announcement, made by this code.

Four bell-like notes rising (before) or falling (after), 16-bit mono WAV at the internal
rate. ``ensure_chimes`` writes them to ``audio/chimes/`` on first use, so the bundled files
can always be rebuilt from source.
"""

from __future__ import annotations

import array
import cmath
import contextlib
import io
import math
import os
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from app.rendering.pcm import SAMPLE_RATE, SAMPLE_WIDTH, pcm_to_wav, wav_to_pcm

__all__ = ["ChimeFiles", "DEFAULT_CHIME_DIR", "chime_wav", "ensure_chimes", "load_chime"]

DEFAULT_CHIME_DIR = Path(__file__).resolve().parents[2] / "audio" / "chimes"

# G4 C5 E5 G5: a major arpeggio, rising to call attention, falling to close.
_NOTES_HZ = (392.0, 523.25, 659.25, 783.99)
_NOTE_SPACING_S = 0.28
_RING_S = 1.1
_PEAK = 0.5  # −6 dBFS: the loudness pipeline sets the final level
# Partials of a soft bell: (multiple of the fundamental, relative amplitude, decay rate per s)
_PARTIALS = ((1.0, 1.0, 3.2), (2.0, 0.35, 5.0), (3.0, 0.12, 7.5))


@dataclass(frozen=True, slots=True)
class ChimeFiles:
    """Paths of the opening and closing chime."""

    opening: Path
    closing: Path


def _note(frequency: float, length: int) -> list[float]:
    """One bell note: a few decaying partials with a 5 ms attack to avoid a click.

    Each partial is a complex phasor turned and shrunk a little every sample, which is a
    damped sine without calling sin/exp per sample.
    """
    attack = int(0.005 * SAMPLE_RATE)
    samples = [0.0] * length
    for multiple, amplitude, decay in _PARTIALS:
        omega = 2 * math.pi * frequency * multiple / SAMPLE_RATE
        step = cmath.exp(complex(-decay / SAMPLE_RATE, omega))
        phasor = complex(0.0, amplitude)
        for n in range(length):
            samples[n] += phasor.real
            phasor *= step
    for n in range(attack):
        samples[n] *= n / attack
    return samples


def _render(notes: tuple[float, ...]) -> bytes:
    """Mix the notes at their onsets and scale to the peak level; 16-bit PCM."""
    step = int(_NOTE_SPACING_S * SAMPLE_RATE)
    ring = int(_RING_S * SAMPLE_RATE)
    mix = [0.0] * (step * (len(notes) - 1) + ring)
    for index, frequency in enumerate(notes):
        for n, value in enumerate(_note(frequency, ring)):
            mix[index * step + n] += value
    fade = int(0.05 * SAMPLE_RATE)  # end on exact silence
    for n in range(fade):
        mix[-1 - n] *= n / fade
    scale = _PEAK * 32767 / max(abs(v) for v in mix)
    return array.array("h", (round(v * scale) for v in mix)).tobytes()


def chime_wav(kind: str) -> bytes:
    """WAV bytes of the ``opening`` (rising) or ``closing`` (falling) chime."""
    if kind not in ("opening", "closing"):
        raise ValueError(f"unknown chime {kind!r}")
    notes = _NOTES_HZ if kind == "opening" else tuple(reversed(_NOTES_HZ))
    return pcm_to_wav(_render(notes))


def _is_valid(path: Path) -> bool:
    try:
        with wave.open(io.BytesIO(path.read_bytes())) as reader:
            return reader.getnframes() > 0 and reader.getsampwidth() == SAMPLE_WIDTH
    except (OSError, wave.Error, EOFError):
        return False


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def ensure_chimes(directory: str | os.PathLike[str] | None = None) -> ChimeFiles:
    """The chime files in ``directory`` (default ``audio/chimes/``), generated if missing."""
    root = Path(directory) if directory is not None else DEFAULT_CHIME_DIR
    files = ChimeFiles(root / "opening.wav", root / "closing.wav")
    for kind, path in (("opening", files.opening), ("closing", files.closing)):
        if not _is_valid(path):
            _write(path, chime_wav(kind))
    return files


def load_chime(kind: str, directory: str | os.PathLike[str] | None = None) -> bytes:
    """Internal PCM of a chime, generating the file first if it is missing."""
    files = ensure_chimes(directory)
    return wav_to_pcm((files.opening if kind == "opening" else files.closing).read_bytes())
