"""TTS engines: espeak-ng speaking pinyin, any command as a voice, and the registry."""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from app.rendering.engines import Engine, make_engine, register_engine
from app.rendering.engines.command import CommandEngine
from app.rendering.engines.espeak import EspeakEngine, passage_markup
from app.rendering.errors import SynthesisFailed, UnknownEngine
from app.rendering.normalize import Segment
from app.rendering.pcm import duration_ms, wav_to_pcm
from tests.rendering.conftest import spoken_texts


def _seconds(wav: bytes) -> float:
    # espeak-ng's streamed WAV header states no real length: count the samples
    return duration_ms(wav_to_pcm(wav)) / 1000


def test_espeak_is_the_default_engine_and_speaks_mandarin_pinyin() -> None:
    engine = make_engine("espeak")
    assert isinstance(engine, EspeakEngine)
    assert engine.voice == "cmn-latn-pinyin"
    wav = engine.synthesize("各位村民，请注意。")
    assert wav.startswith(b"RIFF")
    assert 1.0 < _seconds(wav) < 6.0


def test_espeak_passage_holds_each_pause() -> None:
    engine = EspeakEngine()
    short = engine.synthesize_passage([Segment("各位村民，", 100), Segment("请注意。", 600)])
    long = engine.synthesize_passage([Segment("各位村民，", 1500), Segment("请注意。", 600)])
    assert 1.2 < _seconds(long) - _seconds(short) < 1.6


def test_passage_markup_is_pinyin_with_breaks() -> None:
    markup = passage_markup([Segment("银行，", 250), Segment("重新。", 600)])
    assert markup == '<speak>yin2 hang2 <break time="250ms"/> chong2 xin1</speak>'


def test_command_engine_runs_any_program(fake_tts: tuple[str, Path]) -> None:
    command, log = fake_tts
    engine = make_engine("command", command=command)
    wav = engine.synthesize("各位村民好")
    assert spoken_texts(log) == ["各位村民好"]
    # 5 characters × 80 ms at 24 kHz stereo → resampled to the internal mono format
    assert 380 <= duration_ms(wav_to_pcm(wav)) <= 420


def test_espeak_ng_itself_plugs_in_as_a_command() -> None:
    engine = CommandEngine(command="espeak-ng -v cmn --stdout")
    assert duration_ms(wav_to_pcm(engine.synthesize("你好"))) > 300


def test_a_failing_command_is_a_synthesis_failure(tmp_path: Path) -> None:
    with pytest.raises(SynthesisFailed, match="failed"):
        CommandEngine(command="sh -c 'echo broken >&2; exit 3'").synthesize("你好")
    with pytest.raises(SynthesisFailed, match="no WAV"):
        CommandEngine(command="echo not audio").synthesize("你好")
    with pytest.raises(SynthesisFailed):
        CommandEngine(command=str(tmp_path / "missing-program")).synthesize("你好")


def test_unknown_or_misconfigured_engines_are_refused() -> None:
    with pytest.raises(UnknownEngine) as unknown:
        make_engine("no_such_voice")
    assert unknown.value.code == "unknown_engine"
    with pytest.raises(UnknownEngine, match="CUNXIANG_TTS_COMMAND"):
        make_engine("command")
    with pytest.raises(UnknownEngine):
        make_engine("../espeak")


@dataclass(frozen=True)
class SilentEngine:
    """A third engine: half a second of silence for anything."""

    voice: str = "hush"
    name: ClassVar[str] = "silent"

    def synthesize(self, text: str) -> bytes:
        out = io.BytesIO()
        with wave.open(out, "wb") as writer:
            writer.setnchannels(1)
            writer.setsampwidth(2)
            writer.setframerate(16000)
            writer.writeframes(b"\0\0" * 8000)
        return out.getvalue()


def test_a_third_engine_registers_by_name() -> None:
    register_engine("silent", SilentEngine)
    engine = make_engine("silent")
    assert isinstance(engine, Engine)
    assert duration_ms(wav_to_pcm(engine.synthesize("你好"))) == 500
