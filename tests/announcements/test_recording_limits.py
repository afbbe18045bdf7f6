"""Recordings over CUNXIANG_MAX_RECORDING_MINUTES: refused from the header, nothing stored.

A FLAC of silence is minutes of audio in a few hundred KB: the kind of file that once made
the server decode 160 MB per upload. It must be refused before decoding, with a clear 422.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.config import reset_settings
from tests.announcements.helpers import create, files_under
from tests.rendering.audio_samples import silence_flac, without_length


@pytest.fixture(scope="module")
def flacs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """40 minutes (~0.4 MB), 90 seconds, and 90 seconds whose header states no length."""
    root = tmp_path_factory.mktemp("flacs")
    short = silence_flac(root / "90s.flac", 90)
    return {
        "40min": silence_flac(root / "40min.flac", 40 * 60).read_bytes(),
        "90s": short.read_bytes(),
        "90s-unstated": without_length(short, root / "unstated.flac").read_bytes(),
    }


def _upload(client: TestClient, headers: dict[str, str], ann_id: str, data: bytes) -> Response:
    return client.post(f"/api/v1/announcements/{ann_id}/recording", headers=headers,
                       files={"file": ("voice.flac", data, "audio/flac")})  # fmt: skip


@pytest.fixture
def limit_minutes(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set CUNXIANG_MAX_RECORDING_MINUTES for the app the test starts next."""

    def set_limit(minutes: int) -> None:
        monkeypatch.setenv("CUNXIANG_MAX_RECORDING_MINUTES", str(minutes))
        reset_settings()

    return set_limit


def test_a_40_minute_flac_of_400_kb_is_422_and_nothing_is_stored(
    client: TestClient, people, flacs: dict[str, bytes], env: dict[str, str]
) -> None:
    media = Path(env["CUNXIANG_MEDIA_DIR"])
    ann = create(client, people["staff"])
    assert len(flacs["40min"]) < 1024 * 1024

    response = _upload(client, people["staff"], ann["id"], flacs["40min"])

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "audio_too_long"
    assert "40 min" in body["detail"] and "30 min" in body["detail"]
    assert [p for p in files_under(media) if p.suffix in (".mp3", ".part", ".flac")] == []
    current = client.get(f"/api/v1/announcements/{ann['id']}", headers=people["staff"]).json()
    assert (current["revision"], current["recording"]) == (1, None)


def test_the_limit_is_configurable(
    limit_minutes: Callable[[int], None], people, client: TestClient, flacs: dict[str, bytes]
) -> None:
    ann = create(client, people["staff"])
    limit_minutes(1)

    refused = _upload(client, people["staff"], ann["id"], flacs["90s"])
    limit_minutes(2)
    accepted = _upload(client, people["staff"], ann["id"], flacs["90s"])

    assert refused.status_code == 422, refused.text
    assert "1 min 30 s" in refused.json()["detail"]
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["audio"]["duration_ms"] == pytest.approx(90_000, abs=100)


def test_a_header_that_states_no_length_is_stopped_by_the_bounded_decode(
    limit_minutes: Callable[[int], None],
    people,
    client: TestClient,
    flacs: dict[str, bytes],
    env: dict[str, str],
) -> None:
    ann = create(client, people["staff"])
    limit_minutes(1)

    response = _upload(client, people["staff"], ann["id"], flacs["90s-unstated"])

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "audio_too_long"
    media = Path(env["CUNXIANG_MEDIA_DIR"])
    assert [p for p in files_under(media) if p.suffix in (".mp3", ".part")] == []
