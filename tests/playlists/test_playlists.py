"""Playlists through the API: items, chimes, gaps, duration, status and the playout contract."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.db import session_scope
from app.media.service import silence_media
from app.playlists.service import (
    PLAYLIST_USAGE_CHECKS,
    playlists_using_announcement,
    playout_media,
    unapproved_items,
)
from tests.announcements.helpers import (
    action,
    approved,
    create,
    stop_render_worker,
    wait_for_audio,
)


def _ready_announcement(client: TestClient, people, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    ann = approved(client, people["staff"], people["reviewer"], **kwargs)
    ann["audio"] = wait_for_audio(client, people["staff"], ann["id"])
    assert ann["audio"]["status"] == "ready"
    return ann


def _create(client: TestClient, headers: dict[str, str], expect: int = 201, **body) -> dict:  # type: ignore[no-untyped-def]
    payload = {"name": "早间广播", "area": "t1", **body}
    response = client.post("/api/v1/playlists", json=payload, headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


def test_a_playlist_of_ready_items_is_ready_with_its_total_length(
    client: TestClient, people
) -> None:
    ann = _ready_announcement(client, people)
    playlist = _create(client, people["staff"], items=[{"announcement": ann["id"]},
                                                       {"silence_ms": 1500}])
    assert set(playlist) >= {"id", "name", "area", "items", "duration_ms", "status"}
    assert playlist["items"] == [{"announcement": ann["id"]}, {"silence_ms": 1500}]
    assert (playlist["status"], playlist["chime"], playlist["gap_ms"]) == ("ready", None, 800)
    # announcement + 800 ms gap + 1.5 s of silence (MP3 frames round the silences a little)
    expected = ann["audio"]["duration_ms"] + 800 + 1500
    assert abs(playlist["duration_ms"] - expected) < 100, (playlist["duration_ms"], expected)


def test_playout_media_frames_items_with_chimes_and_gaps(client: TestClient, people) -> None:
    first = _ready_announcement(client, people)
    second = _ready_announcement(client, people, title="第二条", body="请大家注意防火。")
    with session_scope() as session:
        stored = silence_media(session, 300).sha256
    playlist = _create(client, people["staff"], chime="default", gap_ms=500, items=[
        {"announcement": first["id"]}, {"media": stored}, {"announcement": second["id"]}])
    with session_scope() as session:
        playout = playout_media(session, playlist["id"])
        assert playout_media(session, "pl_unknown") is None
    assert playout is not None and playout.ready
    titles = [item["title"] for item in playout.items]
    shas = [item["sha256"] for item in playout.items]
    assert len(titles) == 9  # chime, gap, first, gap, media, gap, second, gap, chime
    assert titles[0] != titles[-1] and "提示音" in titles[0] and "提示音" in titles[-1]
    assert shas[2] == first["audio"]["sha256"] and titles[2] == first["title"]
    assert shas[4] == stored and shas[6] == second["audio"]["sha256"]
    assert len({shas[1], shas[3], shas[5], shas[7]}) == 1  # one shared 500 ms silence file
    assert all(item["url"] == f"/media/{item['sha256']}" for item in playout.items)
    assert playout.duration_ms == sum(item["duration_ms"] for item in playout.items)
    assert playout.duration_ms == playlist["duration_ms"]
    for item in playout.items:  # every part is a real, open file
        assert client.get(item["url"]).status_code == 200


def test_a_media_item_names_its_file_by_sha256_in_either_case(
    client: TestClient, people
) -> None:
    with session_scope() as session:
        stored = silence_media(session, 700)
    shouted = stored.sha256.upper()
    playlist = _create(client, people["staff"], items=[{"media": shouted}])
    assert playlist["items"] == [{"media": stored.sha256}]
    assert playlist["status"] == "ready" and playlist["duration_ms"] == stored.duration_ms
    unknown = _create(client, people["staff"], expect=422, items=[{"media": "A" * 64}])
    assert unknown["error"] and "no stored media" in unknown["detail"]


def test_status_unapproved_lists_the_announcements_left_out(client: TestClient, people) -> None:
    ready = _ready_announcement(client, people)
    draft = create(client, people["staff"], title="未审核")
    playlist = _create(client, people["staff"], items=[{"announcement": ready["id"]},
                                                       {"announcement": draft["id"]}])
    assert (playlist["status"], playlist["unapproved"]) == ("unapproved", [draft["id"]])
    with session_scope() as session:
        assert unapproved_items(session, playlist["id"]) == [draft["id"]]
        playout = playout_media(session, playlist["id"])
    assert playout is not None
    assert [i["sha256"] for i in playout.items] == [ready["audio"]["sha256"]]  # only what may play
    action(client, people["staff"], draft["id"], "submit")
    action(client, people["reviewer"], draft["id"], "approve")
    wait_for_audio(client, people["staff"], draft["id"])
    again = client.get(f"/api/v1/playlists/{playlist['id']}", headers=people["staff"]).json()
    assert (again["status"], again["unapproved"]) == ("ready", [])


def test_a_new_revision_plays_only_once_approved_and_rendered(client: TestClient, people) -> None:
    ann = _ready_announcement(client, people)
    playlist = _create(client, people["staff"], items=[{"announcement": ann["id"]}], gap_ms=0)
    client.patch(f"/api/v1/announcements/{ann['id']}", json={"body": "会议取消了。"},
                 headers=people["staff"])
    with session_scope() as session:  # the edit is a draft: the approved revision still plays
        playout = playout_media(session, playlist["id"])
    assert playout is not None
    assert [i["sha256"] for i in playout.items] == [ann["audio"]["sha256"]]
    stop_render_worker(client)
    action(client, people["staff"], ann["id"], "submit")
    action(client, people["reviewer"], ann["id"], "approve")
    with session_scope() as session:  # approved, not rendered yet: the old audio, not ready
        playout = playout_media(session, playlist["id"])
    assert playout is not None
    assert [i["sha256"] for i in playout.items] == [ann["audio"]["sha256"]]
    assert not playout.ready
    status = client.get(f"/api/v1/playlists/{playlist['id']}", headers=people["staff"]).json()
    assert status["status"] == "pending"


def test_patch_changes_the_playlist_and_emits_playlist_changed(
    client: TestClient, people, events
) -> None:
    ann = _ready_announcement(client, people)
    playlist = _create(client, people["staff"], items=[{"announcement": ann["id"]}])
    response = client.patch(f"/api/v1/playlists/{playlist['id']}", headers=people["staff"],
                            json={"name": "午间广播", "chime": "default", "gap_ms": 0,
                                  "items": [{"silence_ms": 200}, {"announcement": ann["id"]}]})
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["name"], changed["chime"], changed["gap_ms"]) == ("午间广播", "default", 0)
    assert changed["items"] == [{"silence_ms": 200}, {"announcement": ann["id"]}]
    assert changed["duration_ms"] > playlist["duration_ms"]  # two chimes more
    assert ("playlist.changed", {"playlist_id": playlist["id"]}) in events
    with session_scope() as session:
        assert playlists_using_announcement(session, ann["id"]) == [playlist["id"]]
    back = client.get(f"/api/v1/playlists/{playlist['id']}", headers=people["staff"]).json()
    assert back == changed


@pytest.mark.parametrize(("items", "status"), [
    ([], 422),
    ([{"announcement": "ann_nope"}], 422),
    ([{"media": "0" * 64}], 422),
    ([{"media": "xyz"}], 422),
    ([{"silence_ms": 0}], 422),
    ([{"silence_ms": 100, "announcement": "x"}], 422),
    ([{"volume": 3}], 422),
])
def test_bad_items_are_422(client: TestClient, people, items, status) -> None:
    _create(client, people["staff"], expect=status, items=items)


def test_area_scoping(client: TestClient, people) -> None:
    other = create(client, people["staff2"], area="t2")
    _create(client, people["staff"], expect=403, items=[{"silence_ms": 100}], area="t2")
    _create(client, people["staff"], expect=403, items=[{"announcement": other["id"]}])
    _create(client, people["staff"], expect=404, items=[{"silence_ms": 100}], area="nowhere")
    mine = _create(client, people["staff"], items=[{"silence_ms": 100}])
    theirs = _create(client, people["staff2"], area="t2", items=[{"silence_ms": 100}])
    outside = client.get(f"/api/v1/playlists/{theirs['id']}", headers=people["staff"])
    assert outside.status_code == 403
    listed = client.get("/api/v1/playlists", headers=people["staff"]).json()
    assert [p["id"] for p in listed["items"]] == [mine["id"]] and listed["total"] == 1
    by_area = client.get("/api/v1/playlists?area=t2", headers=people["admin"]).json()
    assert [p["id"] for p in by_area["items"]] == [theirs["id"]]
    assert client.get("/api/v1/playlists?area=t2", headers=people["staff"]).status_code == 403
    assert client.post("/api/v1/playlists", json={"name": "x", "area": "t1",
                                                  "items": [{"silence_ms": 1}]},
                       headers=people["reviewer"]).status_code == 403


def test_delete_answers_204_or_409_while_in_use(client: TestClient, people) -> None:
    used = _create(client, people["staff"], name="在用", items=[{"silence_ms": 100}])
    free = _create(client, people["staff"], name="空闲", items=[{"silence_ms": 100}])

    def check(session, playlist):  # type: ignore[no-untyped-def]
        return "schedule 每日早间 plays it" if playlist.id == used["id"] else None

    PLAYLIST_USAGE_CHECKS.append(check)
    try:
        refused = client.delete(f"/api/v1/playlists/{used['id']}", headers=people["staff"])
        deleted = client.delete(f"/api/v1/playlists/{free['id']}", headers=people["staff"])
    finally:
        PLAYLIST_USAGE_CHECKS.remove(check)
    assert refused.status_code == 409 and "每日早间" in refused.json()["detail"]
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/playlists/{free['id']}", headers=people["staff"]).status_code == 404
    assert client.get(f"/api/v1/playlists/{used['id']}", headers=people["staff"]).status_code == 200


def test_an_area_with_playlists_cannot_be_deleted(client: TestClient, people) -> None:
    client.post("/api/v1/areas", json={"code": "v13", "name": "东三村", "level": "village",
                                       "parent": "t1"}, headers=people["admin"])
    _create(client, people["admin"], area="v13", items=[{"silence_ms": 100}])
    response = client.delete("/api/v1/areas/v13", headers=people["admin"])
    assert response.status_code == 409 and "playlist" in response.json()["detail"]
