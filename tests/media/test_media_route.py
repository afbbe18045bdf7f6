"""``GET /media/{sha256}``: open, immutable, cacheable, seekable; unknown hashes are 404."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from app.db import session_scope
from app.media.service import silence_media


@pytest.fixture
def stored(client: TestClient) -> tuple[str, bytes]:
    """A real MP3 in the media store (two seconds of silence, as playlists use) and its bytes."""
    with session_scope() as session:
        media = silence_media(session, 2000)
        sha256 = media.sha256
    response = client.get(f"/media/{sha256}")
    assert response.status_code == 200
    return sha256, response.content


def test_serves_the_file_without_a_token_with_strong_caching(client: TestClient, stored) -> None:
    sha256, data = stored
    response = client.get(f"/media/{sha256}")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == sha256
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.headers["etag"] == f'"{sha256}"'
    assert "immutable" in response.headers["cache-control"]
    assert "max-age=31536000" in response.headers["cache-control"]
    assert response.headers["accept-ranges"] == "bytes"
    assert int(response.headers["content-length"]) == len(data)


def test_the_mp3_suffix_names_the_same_file(client: TestClient, stored) -> None:
    sha256, data = stored
    response = client.get(f"/media/{sha256}.mp3")
    assert response.status_code == 200 and response.content == data
    assert client.get(f"/media/{sha256}.wav").status_code == 404


def test_head_answers_the_headers_only(client: TestClient, stored) -> None:
    sha256, data = stored
    response = client.head(f"/media/{sha256}")
    assert response.status_code == 200
    assert response.content == b""
    assert int(response.headers["content-length"]) == len(data)
    assert response.headers["etag"] == f'"{sha256}"'


def test_if_none_match_answers_304(client: TestClient, stored) -> None:
    sha256, _ = stored
    response = client.get(f"/media/{sha256}", headers={"If-None-Match": f'"{sha256}"'})
    assert response.status_code == 304
    assert response.content == b""
    other = client.get(f"/media/{sha256}", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200


@pytest.mark.parametrize(("header", "part"), [
    ("bytes=0-99", slice(0, 100)),
    ("bytes=100-", slice(100, None)),
    ("bytes=-64", slice(-64, None)),
])
def test_range_requests_answer_206_with_the_part(client: TestClient, stored, header, part) -> None:
    sha256, data = stored
    response = client.get(f"/media/{sha256}", headers={"Range": header})
    assert response.status_code == 206
    assert response.content == data[part]
    start = range(len(data))[part][0]
    assert response.headers["content-range"] == (
        f"bytes {start}-{start + len(data[part]) - 1}/{len(data)}")


def test_a_range_outside_the_file_is_416(client: TestClient, stored) -> None:
    sha256, data = stored
    response = client.get(f"/media/{sha256}", headers={"Range": f"bytes={len(data) + 10}-"})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{len(data)}"


def test_a_malformed_range_is_ignored(client: TestClient, stored) -> None:
    sha256, data = stored
    response = client.get(f"/media/{sha256}", headers={"Range": "pages=1-2"})
    assert response.status_code == 200 and response.content == data


@pytest.mark.parametrize("name", ["0" * 64, "not-a-hash", "A" * 64, "ab" * 40])
def test_unknown_hashes_are_404(client: TestClient, name: str) -> None:
    response = client.get(f"/media/{name}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
