"""The pronunciation lexicon through the API: scoping, validation, audit, nearest entry wins,
and approved announcements re-rendered when an entry they use changes."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from tests.announcements.helpers import Headers, People, approved, create, wait_for_audio

PRON = "/api/v1/pronunciations"
VILLAGE_TEXT = "长垄村的村民请注意，明天上午九点到村委会开会。"


def add(client: TestClient, headers: Headers, word: str, pinyin: str, area: str,
        expect: int = 201) -> dict[str, Any]:
    response = client.post(PRON, json={"word": word, "pinyin": pinyin, "area": area},
                           headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


def spoken(client: TestClient, headers: Headers, text: str, area: str) -> str:
    response = client.post(f"{PRON}/preview", json={"text": text, "area": area}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["pinyin"])


def test_staff_add_list_change_and_remove_entries_in_their_area(
    client: TestClient, people: People
) -> None:
    entry = add(client, people["staff"], "长垄", "chang2 long3", "v11")
    assert entry["word"] == "长垄" and entry["pinyin"] == "chang2 long3"
    assert entry["area"] == "v11" and entry["created_by"] == "user:zhang"
    listed = client.get(PRON, headers=people["reviewer"]).json()
    assert [e["id"] for e in listed["items"]] == [entry["id"]] and listed["total"] == 1
    changed = client.patch(f"{PRON}/{entry['id']}", json={"pinyin": "Zhang3 Long3"},
                           headers=people["staff"])
    assert changed.status_code == 200 and changed.json()["pinyin"] == "zhang3 long3"
    assert client.delete(f"{PRON}/{entry['id']}", headers=people["staff"]).status_code == 204
    assert client.get(f"{PRON}/{entry['id']}", headers=people["staff"]).status_code == 404
    audit = client.get("/api/v1/audit", headers=people["admin2"]).json()["items"]
    actions = [(a["action"], a["entity"]) for a in audit if a["entity"] == "pronunciation"]
    assert sorted(actions) == [("create", "pronunciation"), ("delete", "pronunciation"),
                               ("update", "pronunciation")]


def test_roles_and_areas_are_enforced(client: TestClient, people: People) -> None:
    entry = add(client, people["staff"], "六安", "lu4 an1", "t1")
    add(client, people["staff2"], "六安", "lu4 an1", "t1", expect=403)  # t2's staff
    add(client, people["reviewer"], "蚌埠", "beng4 bu4", "t1", expect=403)  # reviewers read
    assert client.get(f"{PRON}/{entry['id']}", headers=people["staff2"]).status_code == 403
    assert client.get(PRON, headers=people["staff2"]).json()["total"] == 0
    assert client.post(PRON, json={"word": "六安", "pinyin": "lu4 an1", "area": "t1"}
                       ).status_code == 401
    # the district's area may not be deleted while it holds entries
    response = client.delete("/api/v1/areas/t1", headers=people["admin2"])
    assert response.status_code == 409


def test_bad_entries_get_a_clear_422_and_duplicates_409(client: TestClient,
                                                        people: People) -> None:
    for word, pinyin in [("六安", "lu4"), ("六安", "lu an"), ("六安", "lux4 an1"),
                         ("Lu'an", "lu4 an1"), ("", "lu4"), ("六安", "lu4 an9")]:
        response = client.post(PRON, json={"word": word, "pinyin": pinyin, "area": "t1"},
                               headers=people["staff"])
        assert response.status_code == 422, (word, pinyin, response.text)
        assert set(response.json()) >= {"error", "detail"}
    add(client, people["staff"], "六安", "lu4 an1", "t1")
    duplicate = add(client, people["staff"], "六安", "liu4 an1", "t1", expect=409)
    assert duplicate["error"] == "duplicate_pronunciation"
    add(client, people["staff"], "六安", "liu4 an1", "nowhere", expect=404)
    assert client.get(PRON, headers=people["staff"]).json()["total"] == 1  # no trace


def test_the_nearest_entry_wins_down_the_area_tree(client: TestClient, people: People) -> None:
    admin = people["admin2"]
    before = spoken(client, admin, "重岗村", "v11")
    assert before.startswith("zhong4 gang3")
    add(client, admin, "重岗", "chong2 gang3", "d1")  # the district's reading …
    add(client, admin, "重岗", "zhong4 gang1", "v12")  # … and one village's own
    assert spoken(client, admin, "重岗村", "v11").startswith("chong2 gang3")
    assert spoken(client, admin, "重岗村", "v21").startswith("chong2 gang3")
    assert spoken(client, admin, "重岗村", "v12").startswith("zhong4 gang1")
    assert spoken(client, admin, "重岗村", "t1").startswith("chong2 gang3")


def _audio_changes(client: TestClient, headers: Headers, ann_id: str, old: str,
                   timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        audio = client.get(f"/api/v1/announcements/{ann_id}", headers=headers).json()["audio"]
        assert audio["status"] in ("ready", "pending"), audio
        if audio["status"] == "ready" and audio["sha256"] != old:
            return dict(audio)
        assert audio["sha256"] == old  # the old audio keeps playing meanwhile
        time.sleep(0.1)
    raise AssertionError("the announcement was not rendered again")


def test_a_change_re_renders_the_approved_announcements_that_say_the_word(
    client: TestClient, people: People, events: list[tuple[str, dict[str, Any]]]
) -> None:
    saying = approved(client, people["staff"], people["reviewer"], area="v11",
                      body=VILLAGE_TEXT)
    other = approved(client, people["staff"], people["reviewer"], area="v11",
                     body="明天上午九点开会。")
    elsewhere = approved(client, people["staff2"], people["reviewer_t2"], area="v21",
                         body=VILLAGE_TEXT)
    draft = create(client, people["staff"], area="v11", body=VILLAGE_TEXT)
    first = wait_for_audio(client, people["staff"], saying["id"])["sha256"]
    wait_for_audio(client, people["staff"], other["id"])
    entry = add(client, people["staff"], "长垄", "chang2 long3", "t1")
    assert entry["rerendering"] == [saying["id"]]  # not the other text, town or the draft
    assert draft["id"] not in entry["rerendering"] and elsewhere["id"] not in entry["rerendering"]
    events.clear()
    second = _audio_changes(client, people["staff"], saying["id"], first)["sha256"]
    assert ("announcement.audio_ready", {"announcement_id": saying["id"]}) in events
    changed = client.patch(f"{PRON}/{entry['id']}", json={"pinyin": "chang2 long2"},
                           headers=people["staff"]).json()
    assert changed["rerendering"] == [saying["id"]]
    third = _audio_changes(client, people["staff"], saying["id"], second)["sha256"]
    assert third not in (first, second)
    noted = client.patch(f"{PRON}/{entry['id']}", json={"note": "村名"},
                         headers=people["staff"]).json()
    assert noted["rerendering"] == []  # a note changes no sound
