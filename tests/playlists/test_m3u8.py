"""The M3U8 form of a playlist: its text, and a real player's parser (ffprobe) reading it."""

from __future__ import annotations

import time

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.announcements.helpers import SHORT_TEXT, approved, ffprobe, wait_for_audio
from tests.conftest import ADMIN_PASSWORD, PASSWORD, LiveServer


def test_m3u8_lists_every_part_with_its_length_and_absolute_url(client: TestClient, people) -> None:
    ann = approved(client, people["staff"], people["reviewer"])
    audio = wait_for_audio(client, people["staff"], ann["id"])
    created = client.post("/api/v1/playlists", headers=people["staff"], json={
        "name": "早间广播", "area": "t1", "chime": "default",
        "items": [{"announcement": ann["id"]}, {"silence_ms": 1000}]}).json()
    response = client.get(f"/api/v1/playlists/{created['id']}.m3u8", headers=people["staff"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = response.text.splitlines()
    assert lines[0] == "#EXTM3U" and lines[-1] == "#EXT-X-ENDLIST"
    infos = [line for line in lines if line.startswith("#EXTINF:")]
    urls = [line for line in lines if not line.startswith("#")]
    assert len(infos) == len(urls) == 7  # chime, gap, announcement, gap, silence, gap, chime
    assert all(url.startswith("http://testserver/media/") for url in urls)
    assert infos[2] == f"#EXTINF:{audio['duration_ms'] / 1000:.3f},{ann['title']}"
    assert urls[2] == f"http://testserver/media/{audio['sha256']}.mp3"
    total = sum(float(line.split(":", 1)[1].split(",", 1)[0]) for line in infos)
    assert abs(total * 1000 - created["duration_ms"]) < 10


def test_m3u8_needs_a_token_and_something_to_play(client: TestClient, people) -> None:
    from tests.announcements.helpers import create

    draft = create(client, people["staff"])
    created = client.post("/api/v1/playlists", headers=people["staff"], json={
        "name": "空", "area": "t1", "items": [{"announcement": draft["id"]}]}).json()
    url = f"/api/v1/playlists/{created['id']}.m3u8"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=people["staff2"]).status_code == 403
    nothing = client.get(url, headers=people["staff"])
    assert nothing.status_code == 409 and nothing.json()["error"] == "conflict"
    assert client.get("/api/v1/playlists/pl_nope.m3u8", headers=people["staff"]).status_code == 404


def _api(server: LiveServer) -> tuple[httpx.Client, dict[str, str], dict[str, str]]:
    """A client of the live server with staff and reviewer headers of a fresh town."""
    http = httpx.Client(base_url=server.url, timeout=30)

    def login(username: str, password: str) -> dict[str, str]:
        token = http.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert token.status_code == 200, token.text
        return {"Authorization": f"Bearer {token.json()['access_token']}"}

    admin = login("admin", ADMIN_PASSWORD)
    for code, level, parent in [("d1", "district", None), ("t1", "town", "d1")]:
        response = http.post("/api/v1/areas", headers=admin,
                             json={"code": code, "name": code, "level": level, "parent": parent})
        assert response.status_code == 201, response.text
    for username, role in [("zhang", "staff"), ("li", "reviewer")]:
        response = http.post("/api/v1/users", headers=admin, json={
            "username": username, "password": PASSWORD, "role": role, "area": "t1"})
        assert response.status_code == 201, response.text
    return http, login("zhang", PASSWORD), login("li", PASSWORD)


@pytest.mark.slow
def test_ffprobe_reads_the_m3u8_and_every_media_url_from_a_live_server(
    live_server: LiveServer,
) -> None:
    http, staff, reviewer = _api(live_server)
    ann = http.post("/api/v1/announcements", headers=staff,
                    json={"title": "开会通知", "body": SHORT_TEXT, "area": "t1"}).json()
    assert http.post(f"/api/v1/announcements/{ann['id']}/submit", headers=staff).status_code == 200
    assert http.post(f"/api/v1/announcements/{ann['id']}/approve",
                     headers=reviewer).status_code == 200
    deadline = time.monotonic() + 60
    while (audio := http.get(f"/api/v1/announcements/{ann['id']}",
                             headers=staff).json()["audio"])["status"] == "pending":
        assert time.monotonic() < deadline, "not rendered in 60 s"
        time.sleep(0.2)
    assert audio["status"] == "ready", audio
    playlist = http.post("/api/v1/playlists", headers=staff, json={
        "name": "早间广播", "area": "t1", "chime": "default",
        "items": [{"announcement": ann["id"]}, {"silence_ms": 1000}]}).json()
    m3u8 = f"{live_server.url}/api/v1/playlists/{playlist['id']}.m3u8"
    header = f"Authorization: {staff['Authorization']}\r\n"
    info = ffprobe(m3u8, "-headers", header)
    assert abs(float(info["format"]["duration"]) * 1000 - playlist["duration_ms"]) < 500
    urls = [line for line in http.get(m3u8, headers=staff).text.splitlines()
            if not line.startswith("#")]
    for url in dict.fromkeys(urls):
        media = ffprobe(url)
        assert media["format"]["format_name"] == "mp3"
        assert media["streams"][0]["codec_name"] == "mp3"
    http.close()
