"""The one internal audio format (22.05 kHz mono 16-bit PCM) and conversions into it."""

from __future__ import annotations

import io
import subprocess
import wave

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

from app.rendering.errors import SynthesisFailed

__all__ = [
    "SAMPLE_RATE",
    "SAMPLE_WIDTH",
    "CHANNELS",
    "silence",
    "duration_ms",
    "pcm_to_wav",
    "wav_to_pcm",
    "rms_dbfs",
    "apply_gain",
]

# espeak-ng speaks at 22.05 kHz: keeping its rate avoids a resampling pass for the default engine.
SAMPLE_RATE = 22050
SAMPLE_WIDTH = 2
CHANNELS = 1
_BYTES_PER_MS = SAMPLE_RATE * SAMPLE_WIDTH / 1000


def silence(ms: int) -> bytes:
    """``ms`` milliseconds of digital silence."""
    return b"\x00\x00" * int(SAMPLE_RATE * ms / 1000)


def duration_ms(pcm: bytes) -> int:
    """Length of PCM audio in whole milliseconds."""
    return int(len(pcm) / _BYTES_PER_MS)


def _segment(pcm: bytes) -> AudioSegment:
    return AudioSegment(data=pcm, sample_width=SAMPLE_WIDTH, frame_rate=SAMPLE_RATE, channels=1)


def pcm_to_wav(pcm: bytes) -> bytes:
    """Wrap PCM in a WAV header."""
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(CHANNELS)
        writer.setsampwidth(SAMPLE_WIDTH)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(pcm)
    return out.getvalue()


def wav_to_pcm(wav: bytes) -> bytes:
    """WAV bytes (any rate, channels, width, float) → internal PCM; ffmpeg resamples if needed."""
    try:
        audio = AudioSegment.from_wav(io.BytesIO(wav))
    except (CouldntDecodeError, ValueError, IndexError, EOFError):
        return _ffmpeg_to_pcm(wav)  # float or exotic WAV: let ffmpeg read it
    if (audio.frame_rate, audio.channels, audio.sample_width) == (SAMPLE_RATE, 1, SAMPLE_WIDTH):
        return bytes(audio.raw_data)
    if audio.frame_rate == SAMPLE_RATE:
        return bytes(audio.set_channels(1).set_sample_width(SAMPLE_WIDTH).raw_data)
    return _ffmpeg_to_pcm(wav)


def _ffmpeg_to_pcm(wav: bytes) -> bytes:
    """Resample with ffmpeg's filtered resampler rather than pydub's linear one."""
    command = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        "-f",
        "wav",
        "-i",
        "pipe:0",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "s16le",
        "-c:a",
        "pcm_s16le",
        "pipe:1",
    ]
    result = subprocess.run(command, input=wav, capture_output=True, check=False)
    if result.returncode != 0 or not result.stdout:
        detail = result.stderr.decode("utf-8", "replace").strip()[-300:]
        raise SynthesisFailed(f"the engine's output is not readable WAV audio: {detail}")
    return result.stdout


def rms_dbfs(pcm: bytes) -> float:
    """RMS level in dBFS (−inf for silence)."""
    return float(_segment(pcm).dBFS)


def apply_gain(pcm: bytes, db: float) -> bytes:
    """Scale PCM by ``db`` decibels."""
    return bytes(_segment(pcm).apply_gain(db).raw_data)
