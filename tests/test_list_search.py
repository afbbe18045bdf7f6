"""Lists: ``q`` finds rows by the words people know (names, titles), inside the caller's area."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import District


def _found(client: TestClient, headers: dict[str, str], path: str, **query: Any) -> list[Any]:
    response = client.get(path, params=query, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == len(body["items"])
    return list(body["items"])


def _post(client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_q_searches_every_list_by_name_title_or_place(client: TestClient,
                                                      district: District) -> None:
    admin = district.admin
    east = district.user("li", "staff", "t1")
    for title, body in (("秸秆禁烧通知", "严禁焚烧秸秆。"),
                        ("防汛提醒", "注意水库泄洪，100% 撤离。")):
        _post(client, east, "/api/v1/announcements", {"title": title, "body": body, "area": "t1"})
    for name in ("早间广播", "晚间广播"):
        playlist = _post(client, east, "/api/v1/playlists",
                         {"name": name, "area": "t1", "items": [{"silence_ms": 1000}]})
    _post(client, east, "/api/v1/schedules", {"name": "东镇晚间", "playlist": playlist["id"],
                                             "targets": ["t1"], "times": ["19:00"]})
    _post(client, east, "/api/v1/schedules", {"name": "东镇午间", "playlist": playlist["id"],
                                             "targets": ["t1"], "times": ["12:00"],
                                             "enabled": False})
    speaker = _post(client, admin, "/api/v1/speakers", {
        "serial": "SN-77", "village": "v12", "name": "二号喇叭", "location": "东二村村委会楼顶"})
    _post(client, admin, "/api/v1/speakers", {"serial": "SN-78", "village": "v21"})
    _post(client, admin, "/api/v1/outages", {"speaker": speaker["id"], "cause": "amplifier"})
    _post(client, admin, "/api/v1/users", {"username": "zhang", "password": "secret-pass-123",
                                           "role": "crew", "area": None, "name": "张师傅"})

    titles = [a["title"] for a in _found(client, east, "/api/v1/announcements", q="秸秆")]
    assert titles == ["秸秆禁烧通知"]
    assert [a["title"] for a in _found(client, east, "/api/v1/announcements", q="泄洪 100%")] \
        == ["防汛提醒"]  # words of the script; every word must match; % is a plain character
    assert _found(client, east, "/api/v1/announcements", q="100%%") == []
    assert [p["name"] for p in _found(client, east, "/api/v1/playlists", q="晚间")] == ["晚间广播"]
    assert [s["name"] for s in _found(client, east, "/api/v1/schedules", q="东镇")] \
        == ["东镇午间", "东镇晚间"]
    assert [s["name"] for s in _found(client, east, "/api/v1/schedules", enabled="false")] \
        == ["东镇午间"]
    for words in ("村委会", "东二村", "二号", "sn-77"):  # location, village name, name, serial
        assert [s["id"] for s in _found(client, admin, "/api/v1/speakers", q=words)] \
            == [speaker["id"]], words
    assert _found(client, east, "/api/v1/speakers", q="SN-78") == []  # outside 东镇
    [ticket] = _found(client, admin, "/api/v1/tickets", q="东二村")
    assert ticket["speaker"] == speaker["id"]
    assert _found(client, admin, "/api/v1/tickets", q="西一村") == []
    [user] = _found(client, admin, "/api/v1/users", q="张师傅")
    assert (user["username"], user["name"]) == ("zhang", "张师傅")
    assert [u["username"] for u in _found(client, admin, "/api/v1/users", role="staff")] == ["li"]


def test_names_and_locations_are_kept_and_changed(client: TestClient, district: District) -> None:
    admin = district.admin
    created = _post(client, admin, "/api/v1/users", {
        "username": "wang", "password": "secret-pass-123", "role": "reviewer", "area": "t1",
        "name": "王芳"})
    renamed = client.patch("/api/v1/users/wang", json={"name": "王芳芳"}, headers=admin).json()
    speaker = _post(client, admin, "/api/v1/speakers",
                    {"serial": "SN-1", "village": "v11", "location": "村口"})
    moved = client.patch(f"/api/v1/speakers/{speaker['id']}", json={"location": "祠堂门口"},
                         headers=admin).json()

    assert created["name"] == "王芳" and renamed["name"] == "王芳芳"
    assert renamed["role"] == "reviewer" and renamed["area"] == "t1"  # untouched
    assert speaker["location"] == "村口" and moved["location"] == "祠堂门口"
    too_long = client.patch(f"/api/v1/speakers/{speaker['id']}", json={"location": "长" * 201},
                            headers=admin)
    assert too_long.status_code == 422
