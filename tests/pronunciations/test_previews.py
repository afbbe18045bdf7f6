"""Listening before approving or sending: previews of announcements and urgent text."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from tests.announcements.helpers import People, create, ffprobe, wait_for_audio

TEXT = "长垄村的村民请注意，大家得提前到村委会，重[chong2]办证件。"


def preview(client: TestClient, headers: dict[str, str], ann_id: str,
            expect: int = 200) -> dict[str, Any]:
    response = client.post(f"/api/v1/announcements/{ann_id}/preview", headers=headers)
    assert response.status_code == expect, response.text
    return dict(response.json())


def test_a_reviewer_hears_the_current_revision_before_approving(
    client: TestClient, people: People, env: dict[str, str], tmp_path: Path
) -> None:
    client.post("/api/v1/pronunciations", headers=people["staff"],
                json={"word": "长垄", "pinyin": "chang2 long3", "area": "t1"})
    ann = create(client, people["staff"], area="v11", body=TEXT)
    client.post(f"/api/v1/announcements/{ann['id']}/submit", headers=people["staff"])
    heard = preview(client, people["reviewer"], ann["id"])
    assert heard["revision"] == 1 and heard["duration_ms"] > 1000
    assert heard["pinyin"].startswith("chang2 long3 cun1")  # the lexicon applied
    assert "da4 jia1 dei3 ti2 qian2" in heard["pinyin"] and "chong2 ban4" in heard["pinyin"]
    audio = client.get(heard["url"], headers=people["reviewer"])
    assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mpeg"
    saved = tmp_path / "preview.mp3"
    saved.write_bytes(audio.content)
    stream = ffprobe(saved)["streams"][0]
    assert (stream["codec_name"], stream["channels"]) == ("mp3", 1)
    assert client.get(heard["url"]).status_code == 401  # not an open capability
    # Nothing was stored as the announcement's audio, and no media row was made.
    assert client.get(f"/api/v1/announcements/{ann['id']}",
                      headers=people["staff"]).json()["audio"] is None
    media = Path(env["CUNXIANG_MEDIA_DIR"])
    assert not [p for p in media.rglob("*.mp3") if "previews" not in p.parts]


def test_preview_follows_the_announcement_rules(client: TestClient, people: People) -> None:
    ann = create(client, people["staff"], area="v11", body=TEXT)
    preview(client, people["staff2"], ann["id"], expect=403)  # another town's staff
    preview(client, people["staff"], "ann_missing", expect=404)
    assert client.post(f"/api/v1/announcements/{ann['id']}/preview").status_code == 401
    edited = client.patch(f"/api/v1/announcements/{ann['id']}", headers=people["staff"],
                          json={"body": "明天停电。"}).json()
    heard = preview(client, people["staff"], ann["id"])
    assert heard["revision"] == edited["revision"] == 2
    assert heard["pinyin"] == "ming2 tian1 ting2 dian4."


def test_an_expired_preview_is_gone_and_swept(client: TestClient, people: People,
                                               env: dict[str, str]) -> None:
    ann = create(client, people["staff"], area="v11", body="明天停电。")
    first = preview(client, people["staff"], ann["id"])
    path = Path(env["CUNXIANG_MEDIA_DIR"]) / "previews" / first["url"].rsplit("/", 1)[1]
    old = time.time() - 2 * 3600
    os.utime(path, (old, old))
    assert client.get(first["url"], headers=people["staff"]).status_code == 404
    preview(client, people["staff"], ann["id"])
    assert not path.exists()
    assert client.get("/api/v1/previews/..%2F..%2Fetc.mp3",
                      headers=people["staff"]).status_code == 404


def test_urgent_text_is_heard_before_it_is_sent(client: TestClient, people: People) -> None:
    url = "/api/v1/broadcasts/preview"
    body = {"text": "长垄村紧急通知：请立即转移到高处。", "targets": ["v11"]}
    client.post("/api/v1/pronunciations", headers=people["staff"],
                json={"word": "长垄", "pinyin": "chang2 long3", "area": "v11"})
    heard = client.post(url, json=body, headers=people["staff"])
    assert heard.status_code == 200, heard.text
    assert heard.json()["pinyin"].startswith("chang2 long3 cun1 jin3 ji2")
    drill = client.post(url, json={**body, "mode": "exercise"}, headers=people["staff"]).json()
    assert drill["pinyin"].startswith("yan3 xi2, yan3 xi2!")
    assert drill["duration_ms"] > heard.json()["duration_ms"]
    assert client.post(url, json={**body, "targets": ["v21"]},
                       headers=people["staff"]).status_code == 403
    assert client.post(url, json={**body, "targets": ["nowhere"]},
                       headers=people["staff"]).status_code == 422
    assert client.post(url, json=body, headers=people["reviewer"]).status_code == 403
    too_long = client.post(url, json={**body, "text": "长" * 2001}, headers=people["staff"])
    assert too_long.status_code == 422 and too_long.json()["error"]
    assert client.get("/api/v1/broadcasts", headers=people["staff"]).json()["total"] == 0


def test_a_recorded_revision_previews_as_its_recording(
    client: TestClient, people: People, tmp_path: Path
) -> None:
    from tests.announcements.helpers import speech_wav

    ann = create(client, people["staff"], area="v11", body="明天停电。")
    wav = speech_wav(tmp_path / "voice.wav")
    with wav.open("rb") as handle:
        uploaded = client.post(f"/api/v1/announcements/{ann['id']}/recording",
                               headers=people["staff"],
                               files={"file": ("voice.wav", handle, "audio/wav")})
    assert uploaded.status_code == 200, uploaded.text
    heard = preview(client, people["staff"], ann["id"])
    assert heard["url"] == uploaded.json()["recording"]["url"] and heard["pinyin"] == ""
    assert wait_for_audio(client, people["staff"], ann["id"])["status"] == "ready"


def test_hints_show_in_the_body_and_are_stripped_from_the_display_body(
    client: TestClient, people: People
) -> None:
    ann = create(client, people["staff"], area="v11", body=TEXT)
    assert ann["body"] == TEXT
    assert ann["display_body"] == "长垄村的村民请注意，大家得提前到村委会，重办证件。"


def test_a_text_with_nothing_to_say_is_refused_not_failed(
    client: TestClient, people: People, env: dict[str, str]
) -> None:
    # Only a control mark and a character no voice reads (found by the fuzzer: it was a 500).
    for text in ["\u0010\U000e2fbb", "……！", "\u0010"]:
        response = client.post("/api/v1/pronunciations/preview", headers=people["staff"],
                               json={"text": text})
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "empty_script"
    media = Path(env["CUNXIANG_MEDIA_DIR"])
    assert not list(media.rglob("*.mp3"))  # no preview was kept
