"""Fixtures for rendering tests: a media store, generated chimes, a spoken WAV, a fake TTS."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from app.rendering.chimes import ensure_chimes
from app.storage.store import MediaStore
from tests.rendering.audio_samples import espeak_wav


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    """An empty media store."""
    return MediaStore(tmp_path / "media")


@pytest.fixture(scope="session")
def chime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Chimes generated once for the session (the code path that makes audio/chimes/)."""
    directory = tmp_path_factory.mktemp("chimes")
    ensure_chimes(directory)
    return directory


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A few seconds of real speech from espeak-ng."""
    return espeak_wav(tmp_path_factory.mktemp("speech") / "speech.wav")


# A stand-in for a neural voice: reads UTF-8 on stdin, logs it, writes a 24 kHz stereo WAV
# of 80 ms of tone per character (so the pipeline has to resample and downmix it).
FAKE_TTS = textwrap.dedent(
    """
    import math, struct, sys, wave
    text = sys.stdin.buffer.read().decode("utf-8")
    with open(sys.argv[1], "a", encoding="utf-8") as log:
        log.write(text.replace("\\n", " ") + "\\n")
    rate = 24000
    chunk = b"".join(
        struct.pack("<hh", v, v)
        for v in (int(9000 * math.sin(2 * math.pi * 300 * n / rate)) for n in range(1920))
    )
    with wave.open(sys.stdout.buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(chunk * len(text))
    """
)


@pytest.fixture
def fake_tts(tmp_path: Path) -> tuple[str, Path]:
    """A command line for the ``command`` engine and the log of texts it was given."""
    script = tmp_path / "fake_tts.py"
    script.write_text(FAKE_TTS, encoding="utf-8")
    log = tmp_path / "tts.log"
    return f"{sys.executable} {script} {log}", log


def spoken_texts(log: Path) -> list[str]:
    """The texts the fake TTS has been asked to speak, in order."""
    return log.read_text("utf-8").splitlines() if log.exists() else []
