"""Uploaded recordings: accepted formats become −16 LUFS MP3s; anything else is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.rendering.errors import AudioTooLong, UnreadableAudio, UnsupportedMedia
from app.rendering.recordings import probe_audio, transcode_recording
from app.storage.store import MediaStore
from tests.rendering.audio_samples import amr_from_wav, ffmpeg, loudness_and_peak, probe

# (file name, ffmpeg output options, codec probe_audio should name)
FORMATS = [
    ("voice.mp3", ["-c:a", "libmp3lame", "-b:a", "64k"], "mp3"),
    ("voice.wav", ["-ar", "44100", "-ac", "2", "-c:a", "pcm_s16le"], "pcm_s16le"),
    ("voice.m4a", ["-c:a", "aac", "-b:a", "64k"], "aac"),
    ("voice.aac", ["-c:a", "aac", "-f", "adts"], "aac"),
    ("voice.ogg", ["-c:a", "libopus", "-b:a", "32k"], "opus"),
    ("voice.oga", ["-c:a", "libvorbis", "-f", "ogg"], "vorbis"),
    ("voice.flac", ["-c:a", "flac"], "flac"),
]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.fixture(scope="module")
def recordings(speech_wav: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same speech in every accepted container."""
    directory = tmp_path_factory.mktemp("recordings")
    made = {}
    for name, options, _ in FORMATS:
        ffmpeg("-i", str(speech_wav), *options, str(directory / name))
        made[name] = directory / name
    made["voice.amr"] = amr_from_wav(speech_wav, directory / "voice.amr")
    return made


@pytest.mark.parametrize(
    ("name", "codec"), [(n, c) for n, _, c in FORMATS] + [("voice.amr", "amr_nb")]
)
def test_accepted_formats_are_probed(recordings: dict[str, Path], name: str, codec: str) -> None:
    duration_ms, found_codec = probe_audio(recordings[name])
    assert found_codec == codec
    assert 2500 < duration_ms < 7000


@pytest.mark.parametrize("name", ["voice.amr", "voice.m4a", "voice.ogg", "voice.wav"])
def test_recordings_become_playable_normalised_mp3(
    recordings: dict[str, Path], name: str, store: MediaStore
) -> None:
    result = transcode_recording(recordings[name], media_store=store)
    stream = probe(result.path)["streams"][0]
    assert (stream["codec_name"], stream["channels"]) == ("mp3", 1)
    assert result.duration_ms == pytest.approx(probe_audio(recordings[name]).duration_ms, abs=150)
    loudness, peak = loudness_and_peak(result.path)
    assert loudness == pytest.approx(-16.0, abs=1.0)
    assert peak <= -1.0


def test_the_same_upload_is_transcoded_once(recordings: dict[str, Path], store: MediaStore) -> None:
    first = transcode_recording(recordings["voice.mp3"], media_store=store)
    again = transcode_recording(recordings["voice.mp3"], media_store=store)
    assert (again.cached, again.sha256) == (True, first.sha256)


def test_a_text_file_named_mp3_is_refused_and_nothing_is_stored(
    tmp_path: Path, store: MediaStore
) -> None:
    fake = tmp_path / "notice.mp3"
    fake.write_text("各位村民请注意，这不是音频文件。\n" * 20, encoding="utf-8")
    with pytest.raises(UnsupportedMedia) as refused:
        transcode_recording(fake, media_store=store)
    assert (refused.value.code, refused.value.status) == ("unsupported_media", 415)
    assert _files(store.root) == []


def test_a_playlist_disguised_as_mp3_reads_no_other_file(tmp_path: Path, store: MediaStore) -> None:
    playlist = tmp_path / "trick.mp3"
    playlist.write_text(
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    )
    with pytest.raises(UnsupportedMedia):
        transcode_recording(playlist, media_store=store)
    assert _files(store.root) == []


def test_a_video_is_not_a_recording(tmp_path: Path, store: MediaStore) -> None:
    video = tmp_path / "clip.mp4"
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=1:size=64x64:rate=10",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:v",
        "mpeg4",
        "-c:a",
        "aac",
        str(video),
    )
    with pytest.raises(UnsupportedMedia, match="video"):
        transcode_recording(video, media_store=store)


def test_empty_or_damaged_audio_is_unreadable(speech_wav: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.m4a"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableAudio) as unreadable:
        probe_audio(empty)
    assert (unreadable.value.code, unreadable.value.status) == ("unreadable_audio", 422)
    stub = tmp_path / "stub.wav"
    stub.write_bytes(speech_wav.read_bytes()[:200])  # a header and a few samples
    with pytest.raises(UnreadableAudio):
        transcode_recording(stub, media_store=MediaStore(tmp_path / "media"))
    assert _files(tmp_path / "media") == []


def test_a_recording_over_the_limit_is_too_long(
    recordings: dict[str, Path], store: MediaStore
) -> None:
    with pytest.raises(AudioTooLong) as too_long:
        transcode_recording(recordings["voice.m4a"], media_store=store, max_duration_ms=1000)
    assert (too_long.value.code, too_long.value.status) == ("audio_too_long", 422)
    with pytest.raises(AudioTooLong):  # probing alone already refuses it
        probe_audio(recordings["voice.amr"], max_duration_ms=1000)
    assert _files(store.root) == []
