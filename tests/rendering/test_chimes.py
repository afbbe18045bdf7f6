"""The attention chimes: made by the project's own code, 16-bit WAV, rebuilt when missing."""

from __future__ import annotations

import wave
from pathlib import Path

from app.rendering.chimes import DEFAULT_CHIME_DIR, chime_wav, ensure_chimes, load_chime
from app.rendering.pcm import SAMPLE_RATE, duration_ms
from tests.rendering.audio_samples import probe


def test_chimes_are_written_as_16_bit_mono_wav(tmp_path: Path) -> None:
    files = ensure_chimes(tmp_path / "chimes")
    for path in (files.opening, files.closing):
        with wave.open(str(path)) as reader:
            assert (reader.getsampwidth(), reader.getnchannels()) == (2, 1)
            assert reader.getframerate() == SAMPLE_RATE
            assert 1.0 < reader.getnframes() / SAMPLE_RATE < 3.0
        assert probe(path)["streams"][0]["codec_name"] == "pcm_s16le"
        assert path.stat().st_size < 200_000  # small enough to commit
    assert files.opening.read_bytes() != files.closing.read_bytes()


def test_missing_or_damaged_chimes_are_made_again(tmp_path: Path) -> None:
    files = ensure_chimes(tmp_path)
    original = files.opening.read_bytes()
    files.opening.unlink()
    files.closing.write_bytes(b"not a wav")
    again = ensure_chimes(tmp_path)
    assert again.opening.read_bytes() == original  # the generator is deterministic
    assert again.closing.read_bytes() == chime_wav("closing")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_the_bundled_chimes_are_kept_once_valid() -> None:
    files = ensure_chimes()
    assert files.opening.parent == DEFAULT_CHIME_DIR
    made = files.opening.stat().st_mtime_ns
    ensure_chimes()
    assert files.opening.stat().st_mtime_ns == made
    assert duration_ms(load_chime("closing")) > 1000
