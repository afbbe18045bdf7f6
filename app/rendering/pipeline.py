"""Audio mastering with ffmpeg: measure loudness, gain, limit, encode mono MP3.

Gain alone clips speech (its peaks sit ~17 dB above its loudness). So: estimate the
level and what the limiter will shave off the peaks (block by block, in Python), choose
the gain from that, then one ffmpeg pass applies gain → look-ahead limiter under the
true-peak ceiling → MP3 while its EBU R128 meter measures the result. If that misses
the target by more than ``TOLERANCE_LU``, the gain is corrected and the pass repeated.
"""

from __future__ import annotations

import math
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pydub.utils import audioop  # type: ignore[attr-defined]

from app.rendering.errors import RenderingError, StorageFull
from app.rendering.pcm import SAMPLE_RATE, duration_ms

__all__ = [
    "TARGET_LUFS",
    "TRUE_PEAK_DBTP",
    "Mastered",
    "measure_loudness",
    "master_to_mp3",
]

TARGET_LUFS = -16.0
TRUE_PEAK_DBTP = -1.5
# Samples are held 1 dB under the true-peak ceiling: peaks between samples and the
# MP3 encoder's ringing add up to about that much.
SAMPLE_CEILING_DBFS = TRUE_PEAK_DBTP - 1.0
TOLERANCE_LU = 0.5
MAX_PASSES = 3
MAX_GAIN_DB = 30.0
_SILENT_DBFS = -70.0
_BLOCK_SAMPLES = SAMPLE_RATE // 100  # 10 ms: short enough to follow the limiter
_BLOCKS_PER_STEP = 10  # 100 ms gating steps
_GAIN_ITERATIONS = 4  # each leaves about 40 % of the error: 4 are plenty
# Loudness gained per dB of gain once the limiter is working (used for a first correction)
_TYPICAL_SLOPE = 0.7
# VBR (~50 kb/s for speech at 22.05 kHz): decoded it measures as loud as its input,
# where CBR at this rate came out 0.4 LU quieter.
_MP3_OPTIONS = ["-c:a", "libmp3lame", "-q:a", "4", "-compression_level", "7"]
# No tags and no encoder version: the same audio gives the same bytes, hence the same hash.
_REPRODUCIBLE = [
    "-map_metadata",
    "-1",
    "-fflags",
    "+bitexact",
    "-flags:a",
    "+bitexact",
    "-f",
    "mp3",
]
_RAW_INPUT = ["-f", "s16le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0"]
_SUMMARY = re.compile(
    r"\[(Parsed_ebur128_\d+) @ [^\]]*\] Summary:\s*Integrated loudness:\s*I:\s*(-?[\d.]+|-?inf)"
)


@dataclass(frozen=True, slots=True)
class Mastered:
    """A finished MP3 with its length and measured integrated loudness."""

    mp3: bytes
    duration_ms: int
    loudness_lufs: float


def _ffmpeg(arguments: list[str], pcm: bytes) -> subprocess.CompletedProcess[bytes]:
    """Run ffmpeg on PCM from stdin; a failure here is ours, not the user's."""
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-nostats", *_RAW_INPUT, *arguments]
    result = subprocess.run(command, input=pcm, capture_output=True, check=False)
    if result.returncode != 0:
        detail = result.stderr.decode("utf-8", "replace").strip()[-400:]
        if "No space left on device" in detail or "Disk quota exceeded" in detail:
            raise StorageFull(f"the storage is full: ffmpeg could not write its output "
                              f"({detail[-120:]}); nothing was stored; free some space and retry")
        raise RenderingError(f"ffmpeg failed ({result.returncode}): {detail}")
    return result


def _summaries(stderr: bytes) -> dict[str, float]:
    """Integrated loudness per ``ebur128`` instance, keyed by the instance's name."""
    found = _SUMMARY.findall(stderr.decode("utf-8", "replace"))
    if not found:
        raise RenderingError("ffmpeg printed no loudness summary")
    return {name: max(float(value), -70.0) for name, value in found}


def _limited(gain_db: float) -> str:
    """Filter chain: gain, then the look-ahead limiter at the sample ceiling."""
    ceiling = 10 ** (SAMPLE_CEILING_DBFS / 20)
    return (
        f"volume={gain_db:.2f}dB,alimiter=limit={ceiling:.4f}:level=0:latency=1:attack=5:release=60"
    )


def measure_loudness(pcm: bytes) -> float:
    """Integrated loudness (LUFS, EBU R128) of internal PCM."""
    result = _ffmpeg(["-af", "ebur128=framelog=verbose", "-f", "null", "-"], pcm)
    return next(iter(_summaries(result.stderr).values()))


def _encode(pcm: bytes, gain_db: float) -> tuple[bytes, float]:
    """Gain, limit and encode in one ffmpeg run; returns the MP3 and its measured loudness."""
    # The meter sits in the encoder's chain: a second ffmpeg would cost a start-up and a
    # second limiter pass. The output is a seekable file, not a pipe: only then does
    # ffmpeg write the VBR header that tells players the exact duration.
    chain = f"{_limited(gain_db)},ebur128=framelog=verbose"
    with tempfile.TemporaryDirectory(prefix="cunxiang-mp3-") as workdir:
        target = Path(workdir) / "out.mp3"
        arguments = ["-af", chain, *_MP3_OPTIONS, "-ac", "1", *_REPRODUCIBLE, str(target)]
        result = _ffmpeg(arguments, pcm)
        return target.read_bytes(), next(iter(_summaries(result.stderr).values()))


def _block_levels(pcm: bytes) -> tuple[list[float], list[float]]:
    """Mean square (full scale = 1) and peak (dBFS) of each 10 ms block."""
    size = _BLOCK_SAMPLES * 2
    energies, peaks = [], []
    for start in range(0, len(pcm) - size + 1, size):
        block = pcm[start : start + size]
        energies.append((audioop.rms(block, 2) / 32768) ** 2)
        peak = audioop.max(block, 2)
        peaks.append(20 * math.log10(peak / 32768) if peak else -120.0)
    return energies, peaks


def _gated_level(energies: list[float]) -> float:
    """BS.1770-style gated level (400 ms windows, 100 ms apart, −70 absolute, −10 relative).

    Without K-weighting, but for speech it lands within about a dB of the loudness.
    """
    per = _BLOCKS_PER_STEP
    steps = [sum(energies[i : i + per]) / per for i in range(0, len(energies) - per + 1, per)]
    windows = [sum(steps[i : i + 4]) / 4 for i in range(max(1, len(steps) - 3))] if steps else []
    audible = [w for w in windows if w > 10 ** (_SILENT_DBFS / 10)]
    if not audible:
        return _SILENT_DBFS
    relative_gate = sum(audible) / len(audible) / 10
    gated = [w for w in audible if w > relative_gate]
    return 10 * math.log10(sum(gated) / len(gated))


def _level_after_limiting(energies: list[float], peaks: list[float], gain: float) -> float:
    """Estimated level after gain + limiter: every block over the ceiling is pulled down."""
    limited = list(energies)
    threshold = SAMPLE_CEILING_DBFS - gain
    for index, peak in enumerate(peaks):
        if peak > threshold:
            limited[index] *= 10 ** ((threshold - peak) / 10)
    return _gated_level(limited) + gain


def _first_gain(pcm: bytes, target_lufs: float) -> float:
    """The gain that should land on target once the limiter has shaved the peaks.

    The limiter's loss grows with the gain, so the gain is found by fixed-point
    iteration on a block-level simulation (a few tens of ms in Python); the encode
    pass then measures the real loudness.
    """
    energies, peaks = _block_levels(pcm)
    level = _gated_level(energies)
    if level <= _SILENT_DBFS:
        return 0.0
    gain = target_lufs - level
    for _ in range(_GAIN_ITERATIONS):
        gain += target_lufs - _level_after_limiting(energies, peaks, gain)
    return min(gain, MAX_GAIN_DB)


def _next_gain(points: list[tuple[float, float]], target: float) -> float:
    """Correct the gain from the measured (gain, loudness) points (secant once there are two)."""
    if len(points) < 2:
        gain, loudness = points[-1]
        return gain + (target - loudness) / _TYPICAL_SLOPE
    (g1, l1), (g2, l2) = points[-2], points[-1]
    if abs(l2 - l1) < 0.05:
        return g2 + (target - l2)
    return g2 + (target - l2) * (g2 - g1) / (l2 - l1)


def master_to_mp3(pcm: bytes, *, target_lufs: float = TARGET_LUFS) -> Mastered:
    """Normalise PCM to ``target_lufs`` under the true-peak ceiling and encode mono MP3."""
    if not pcm:
        raise RenderingError("there is no audio to master")
    gain = _first_gain(pcm, target_lufs)
    points: list[tuple[float, float]] = []
    best: tuple[bytes, float] | None = None
    for _ in range(MAX_PASSES):
        mp3, loudness = _encode(pcm, gain)
        points.append((gain, loudness))
        if best is None or abs(loudness - target_lufs) < abs(best[1] - target_lufs):
            best = (mp3, loudness)
        if loudness <= _SILENT_DBFS + 1 or abs(loudness - target_lufs) <= TOLERANCE_LU:
            break  # on target, or silence (which no gain makes louder)
        gain = min(_next_gain(points, target_lufs), MAX_GAIN_DB)
    assert best is not None  # the loop runs at least once
    mp3, loudness = best
    return Mastered(mp3=mp3, duration_ms=duration_ms(pcm), loudness_lufs=round(loudness, 1))
