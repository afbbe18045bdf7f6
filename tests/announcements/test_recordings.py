"""Recorded voices: phones' amr and m4a become playable MP3s; anything else leaves no trace."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import reset_settings
from app.db import session_scope
from app.media.models import MediaFile
from tests.announcements.helpers import (
    action,
    amr_file,
    convert,
    create,
    ffprobe,
    files_under,
    loudness_and_peak,
    speech_wav,
)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real recordings: espeak-ng speech as wav and m4a (AAC), and an amr file."""
    root = tmp_path_factory.mktemp("recordings")
    wav = speech_wav(root / "voice.wav")
    return {
        "wav": wav,
        "m4a": convert(wav, root / "voice.m4a", "-c:a", "aac", "-b:a", "48k"),
        "amr": amr_file(root / "voice.amr"),
        "ogg": convert(wav, root / "voice.ogg", "-c:a", "libopus", "-b:a", "24k"),
    }


def _upload(client: TestClient, headers: dict[str, str], ann_id: str, name: str,
            data: bytes, content_type: str = "application/octet-stream"):  # type: ignore[no-untyped-def]
    return client.post(f"/api/v1/announcements/{ann_id}/recording", headers=headers,
                       files={"file": (name, data, content_type)})


def _media_rows() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(MediaFile)) or 0


def _leftovers(media_dir: Path) -> list[Path]:
    """Files in the media dir, and upload or conversion leftovers in the system temp dir."""
    temp = Path(tempfile.gettempdir())
    strays = [p for p in temp.glob("cunxiang-*")] + [p for p in temp.glob("upload-*")]
    return files_under(media_dir) + strays


@pytest.fixture
def media_dir(env: dict[str, str]) -> Path:
    """This test's CUNXIANG_MEDIA_DIR."""
    return Path(env["CUNXIANG_MEDIA_DIR"])


@pytest.mark.parametrize("kind", ["amr", "m4a", "ogg"])
def test_a_phone_recording_becomes_a_playable_mp3(
    client: TestClient, people, recordings, kind: str, tmp_path: Path
) -> None:
    ann = create(client, people["staff"])
    response = _upload(client, people["staff"], ann["id"], f"voice.{kind}",
                       recordings[kind].read_bytes())
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["revision"], result["status"]) == (2, "draft")
    assert result["recording"]["sha256"] == result["audio"]["sha256"]
    assert result["audio"]["status"] == "ready"  # a recording needs no text-to-speech
    mp3 = client.get(result["audio"]["url"])
    assert mp3.status_code == 200 and mp3.headers["content-type"] == "audio/mpeg"
    (tmp_path / "out.mp3").write_bytes(mp3.content)
    info = ffprobe(tmp_path / "out.mp3")
    assert info["format"]["format_name"] == "mp3"
    assert info["streams"][0]["channels"] == 1
    source_s = float(ffprobe(recordings[kind])["format"]["duration"])
    assert abs(float(info["format"]["duration"]) - source_s) < 0.3
    lufs, peak = loudness_and_peak(mp3.content)
    assert abs(lufs + 16) <= 1 and peak <= -1.0, (lufs, peak)


def test_the_recording_plays_once_approved(client: TestClient, people, recordings) -> None:
    ann = create(client, people["staff"])
    uploaded = _upload(client, people["staff"], ann["id"], "v.wav", recordings["wav"].read_bytes())
    action(client, people["staff"], ann["id"], "submit")
    approved = action(client, people["reviewer"], ann["id"], "approve")
    assert approved["audio"] == uploaded.json()["audio"]
    edited = client.patch(f"/api/v1/announcements/{ann['id']}", json={"title": "新标题"},
                          headers=people["staff"]).json()
    assert edited["recording"] == approved["recording"]  # an edit keeps the voice
    removed = client.delete(f"/api/v1/announcements/{ann['id']}/recording",
                            headers=people["staff"])
    assert removed.status_code == 200
    assert (removed.json()["recording"], removed.json()["audio"]) == (None, None)
    assert client.delete(f"/api/v1/announcements/{ann['id']}/recording",
                         headers=people["staff"]).status_code == 409


def test_a_text_file_named_mp3_is_refused_and_leaves_nothing(
    client: TestClient, people, media_dir: Path
) -> None:
    ann = create(client, people["staff"])
    before_files, before_rows = _leftovers(media_dir), _media_rows()
    text = ("村民们请注意，这不是音频文件。\n" * 200).encode("utf-8")
    response = _upload(client, people["staff"], ann["id"], "notice.mp3", text, "audio/mpeg")
    assert response.status_code == 415, response.text
    assert response.json()["error"] == "unsupported_media"
    assert _leftovers(media_dir) == before_files
    assert _media_rows() == before_rows
    current = client.get(f"/api/v1/announcements/{ann['id']}", headers=people["staff"]).json()
    assert (current["revision"], current["recording"]) == (1, None)


def test_damaged_audio_is_422_and_leaves_nothing(
    client: TestClient, people, recordings, media_dir: Path
) -> None:
    ann = create(client, people["staff"])
    before = _leftovers(media_dir)
    wav = recordings["wav"].read_bytes()
    response = _upload(client, people["staff"], ann["id"], "cut.wav", wav[:60])
    assert response.status_code == 422, response.text
    assert _leftovers(media_dir) == before
    assert _media_rows() == 0


@pytest.fixture
def small_limit(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CUNXIANG_MAX_UPLOAD_MB=1 for this test."""
    monkeypatch.setenv("CUNXIANG_MAX_UPLOAD_MB", "1")
    reset_settings()
    yield


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(
    small_limit: None, client: TestClient, people, media_dir: Path
) -> None:
    ann = create(client, people["staff"])
    before = _leftovers(media_dir)
    big = b"\0" * (2 * 1024 * 1024)
    response = _upload(client, people["staff"], ann["id"], "big.wav", big)
    assert response.status_code == 413, response.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: the count while streaming stops it
        boundary = b"cunxiangboundary"
        yield (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; '
               b'filename="big.wav"\r\nContent-Type: audio/wav\r\n\r\n')
        for _ in range(40):
            yield b"\1" * 65536
        yield b"\r\n--" + boundary + b"--\r\n"

    streamed = client.post(
        f"/api/v1/announcements/{ann['id']}/recording", content=chunks(),
        headers={**people["staff"],
                 "Content-Type": "multipart/form-data; boundary=cunxiangboundary"},
    )
    assert streamed.status_code == 413, streamed.text
    assert _leftovers(media_dir) == before
    assert _media_rows() == 0


def test_an_upload_needs_the_file_field_and_multipart(client: TestClient, people) -> None:
    ann = create(client, people["staff"])
    url = f"/api/v1/announcements/{ann['id']}/recording"
    missing = client.post(url, headers=people["staff"], files={"other": ("a.wav", b"x")})
    assert missing.status_code == 422
    raw = client.post(url, headers={**people["staff"], "Content-Type": "audio/wav"}, content=b"x")
    assert raw.status_code == 415


def test_only_writers_of_the_area_upload(client: TestClient, people, recordings,
                                         media_dir: Path) -> None:
    ann = create(client, people["staff"])
    data = recordings["wav"].read_bytes()
    assert _upload(client, people["staff2"], ann["id"], "v.wav", data).status_code == 403
    assert _upload(client, people["reviewer"], ann["id"], "v.wav", data).status_code == 403
    assert _upload(client, people["staff"], "ann_nope", "v.wav", data).status_code == 404
    assert _media_rows() == 0 and files_under(media_dir) == []
