"""Mastering: −16 LUFS integrated, no sample near full scale, mono MP3 a player reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from app.rendering.pcm import SAMPLE_RATE, apply_gain, silence, wav_to_pcm
from app.rendering.pipeline import master_to_mp3
from tests.rendering.audio_samples import loudness_and_peak, probe


@pytest.fixture(scope="module")
def speech_pcm(speech_wav: Path) -> bytes:
    return wav_to_pcm(speech_wav.read_bytes())


@pytest.mark.parametrize("level_db", [-24.0, 0.0, 12.0])
def test_speech_at_any_level_comes_out_at_minus_16_lufs(
    speech_pcm: bytes, level_db: float, tmp_path: Path
) -> None:
    # +12 dB clips hard: the limiter, not plain gain, has to keep the peaks down
    mastered = master_to_mp3(apply_gain(speech_pcm, level_db))
    mp3 = tmp_path / "out.mp3"
    mp3.write_bytes(mastered.mp3)
    loudness, peak = loudness_and_peak(mp3)
    assert loudness == pytest.approx(-16.0, abs=1.0)
    assert peak <= -1.0
    assert mastered.loudness_lufs == pytest.approx(loudness, abs=0.5)


def test_output_is_mono_mp3_with_its_true_length(speech_pcm: bytes, tmp_path: Path) -> None:
    mastered = master_to_mp3(speech_pcm)
    mp3 = tmp_path / "out.mp3"
    mp3.write_bytes(mastered.mp3)
    info = probe(mp3)
    stream = info["streams"][0]
    assert (stream["codec_name"], stream["channels"]) == ("mp3", 1)
    assert int(stream["sample_rate"]) == SAMPLE_RATE
    expected_s = len(speech_pcm) / 2 / SAMPLE_RATE
    assert mastered.duration_ms == pytest.approx(expected_s * 1000, abs=1)
    assert float(info["format"]["duration"]) == pytest.approx(expected_s, abs=0.1)


def test_true_peak_stays_under_the_ceiling(speech_pcm: bytes, tmp_path: Path) -> None:
    mp3 = tmp_path / "out.mp3"
    mp3.write_bytes(master_to_mp3(apply_gain(speech_pcm, 6.0)).mp3)
    summary = subprocess.run(
        ["ffmpeg", "-nostats", "-i", str(mp3), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    true_peak = float(summary.rsplit("Peak:", 1)[1].split()[0])
    assert true_peak <= -1.5


def test_silence_stays_silent(tmp_path: Path) -> None:
    mastered = master_to_mp3(silence(1500))
    mp3 = tmp_path / "silence.mp3"
    mp3.write_bytes(mastered.mp3)
    assert float(probe(mp3)["format"]["duration"]) == pytest.approx(1.5, abs=0.1)
    assert mastered.loudness_lufs <= -60
