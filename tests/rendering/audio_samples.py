"""Small real audio for the rendering tests: espeak speech in many containers, and meters.

The meters are independent of the code under test: pyloudnorm for loudness, numpy for
sample peaks, ffprobe for "does a player read it".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm

PINYIN = "ge4 wei4 cun1 min2, qing3 zhu4 yi4. ming2 tian1 shang4 wu3 ting2 dian4."


def espeak_wav(path: Path, pinyin: str = PINYIN) -> Path:
    """A short spoken sentence as a 22.05 kHz WAV (espeak-ng's own output)."""
    subprocess.run(["espeak-ng", "-v", "cmn-latn-pinyin", "-w", str(path), pinyin], check=True)
    return path


def ffmpeg(*arguments: str) -> None:
    """Run ffmpeg quietly, failing the test on error."""
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-nostdin", *arguments], check=True)


def _pcm_8k(wav: Path) -> bytes:
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(wav), "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
        check=True,
        capture_output=True,
    )
    return result.stdout


def amr_from_wav(wav: Path, target: Path) -> Path:
    """A real AMR-NB file (RFC 4867 storage format) of the speech in ``wav``.

    Debian's ffmpeg has an AMR decoder but no encoder, so the speech is encoded with
    libopencore-amrnb (package libopencore-amrnb0) through ctypes. Without that library
    the file is still valid AMR-NB, 12.2 kbit/s frames with arbitrary payload (noise).
    """
    name = ctypes.util.find_library("opencore-amrnb")
    frames = _encode_amr(_pcm_8k(wav), name) if name else _noise_amr_frames(100)
    target.write_bytes(b"#!AMR\n" + frames)
    return target


def _encode_amr(pcm: bytes, library_name: str) -> bytes:
    library = ctypes.CDLL(library_name)
    library.Encoder_Interface_init.restype = ctypes.c_void_p
    library.Encoder_Interface_Encode.argtypes = [
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_short),
        ctypes.POINTER(ctypes.c_ubyte),
        ctypes.c_int,
    ]
    library.Encoder_Interface_exit.argtypes = [ctypes.c_void_p]
    state = library.Encoder_Interface_init(0)
    frame_bytes = 160 * 2
    out = bytearray()
    buffer = (ctypes.c_ubyte * 64)()
    try:
        for start in range(0, len(pcm) - frame_bytes + 1, frame_bytes):
            speech = (ctypes.c_short * 160).from_buffer_copy(pcm[start : start + frame_bytes])
            size = library.Encoder_Interface_Encode(state, 7, speech, buffer, 0)  # 7 = MR122
            out += bytes(buffer[:size])
    finally:
        library.Encoder_Interface_exit(state)
    return bytes(out)


def _noise_amr_frames(count: int) -> bytes:
    rng = random.Random(7)
    return b"".join(bytes([0x3C]) + rng.randbytes(31) for _ in range(count))


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a file (raises if ffprobe cannot read it)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    )
    return dict(json.loads(result.stdout))


def decode(path: Path) -> tuple[np.ndarray, int]:
    """Samples (float, full scale 1.0) and rate of any file ffmpeg can decode."""
    rate = int(probe(path)["streams"][0]["sample_rate"])
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-ac", "1", "-f", "f32le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.float32).astype(np.float64), rate


def loudness_and_peak(path: Path) -> tuple[float, float]:
    """Integrated loudness (pyloudnorm) and highest sample (dBFS), decoding once."""
    samples, rate = decode(path)
    loudness = float(pyloudnorm.Meter(rate).integrated_loudness(samples))
    return loudness, float(20 * np.log10(np.max(np.abs(samples))))


def loudness_lufs(path: Path) -> float:
    """Integrated loudness measured by pyloudnorm (ITU-R BS.1770)."""
    samples, rate = decode(path)
    return float(pyloudnorm.Meter(rate).integrated_loudness(samples))


def peak_dbfs(path: Path) -> float:
    """The highest sample of the decoded audio, in dBFS."""
    samples, _ = decode(path)
    return float(20 * np.log10(np.max(np.abs(samples))))


def silence_flac(path: Path, seconds: int) -> Path:
    """Seconds of silence as FLAC: minutes of audio in a few hundred KB (a small bomb)."""
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds), "-c:a", "flac",
           str(path))  # fmt: skip
    return path


def without_length(flac: Path, target: Path) -> Path:
    """The same FLAC with its header's sample count zeroed: the length is no longer stated."""
    data = bytearray(flac.read_bytes())
    assert data[:4] == b"fLaC"
    fields = int.from_bytes(data[18:26], "big")  # STREAMINFO: rate, channels, bits, samples
    data[18:26] = (fields & ~((1 << 36) - 1)).to_bytes(8, "big")
    target.write_bytes(bytes(data))
    return target
