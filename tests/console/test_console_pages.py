"""Every console page renders for each role (over HTTP, no browser): names, not codes."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, District
from tests.console.conftest import SAME_ORIGIN


def _console(client: TestClient, username: str, password: str = PASSWORD) -> None:
    client.post("/console/logout", headers=SAME_ORIGIN)
    answer = client.post("/console/login", data={"username": username, "password": password},
                         follow_redirects=False, headers=SAME_ORIGIN)
    assert answer.status_code == 303, answer.text


def _scene(district: District) -> dict[str, Any]:
    client, admin = district.client, district.admin

    def post(path: str, body: dict[str, Any], headers: dict[str, str] = admin) -> Any:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    for username, role, area, name in (("li", "staff", "t1", "李明"),
                                       ("wang", "reviewer", "t1", "王芳"),
                                       ("zhang", "crew", None, "张师傅")):
        post("/api/v1/users", {"username": username, "password": PASSWORD, "role": role,
                               "area": area, "name": name})
    li = {"Authorization": "Bearer " + client.post("/api/v1/auth/token", json={
        "username": "li", "password": PASSWORD}).json()["access_token"]}
    announcement = post("/api/v1/announcements", {"title": "秸秆禁烧通知", "body": "严禁焚烧秸秆。",
                                                  "area": "t1"}, li)
    post(f"/api/v1/announcements/{announcement['id']}/submit", {}, li)
    playlist = post("/api/v1/playlists", {"name": "早间广播", "area": "t1",
                                          "items": [{"silence_ms": 1500}]}, li)
    schedule = post("/api/v1/schedules", {"name": "东镇早间", "playlist": playlist["id"],
                                          "targets": ["t1"], "times": ["07:00"]}, li)
    crew = post("/api/v1/crews", {"name": "东镇维修队", "towns": ["t1"], "members": ["zhang"]})
    speaker = post("/api/v1/speakers", {"serial": "SN-9", "village": "v11", "name": "村口喇叭",
                                        "location": "东一村村委会楼顶"})
    post("/api/v1/outages", {"speaker": speaker["id"], "cause": "amplifier"})
    ticket = client.get("/api/v1/tickets", headers=admin).json()["items"][0]
    return {"announcement": announcement["id"], "playlist": playlist["id"],
            "schedule": schedule["id"], "crew": crew["id"], "speaker": speaker["id"],
            "ticket": ticket["id"]}


def test_every_page_renders_for_its_roles_with_names_not_codes(district: District) -> None:
    client = district.client
    ids = _scene(district)
    pages = {
        "admin": ["/console/", "/console/users", "/console/users/li", "/console/api-keys",
                  "/console/crews", f"/console/crews/{ids['crew']}", "/console/speakers",
                  "/console/speakers/new", f"/console/speakers/{ids['speaker']}"],
        "li": ["/console/", "/console/announcements", "/console/announcements/new",
               f"/console/announcements/{ids['announcement']}", "/console/playlists",
               "/console/playlists/new", f"/console/playlists/{ids['playlist']}",
               "/console/schedules", "/console/schedules/new",
               f"/console/schedules/{ids['schedule']}", "/console/broadcasts",
               "/console/broadcasts/new", "/console/speakers", "/console/crews",
               f"/console/tickets/{ids['ticket']}", "/console/tickets"],
        "wang": ["/console/", "/console/announcements",
                 f"/console/announcements/{ids['announcement']}", "/console/playlists"],
        "zhang": ["/console/", "/console/tickets", f"/console/tickets/{ids['ticket']}",
                  f"/console/speakers/{ids['speaker']}"],
    }
    for username, paths in pages.items():
        _console(client, username, "admin-pass-123" if username == "admin" else PASSWORD)
        for path in paths:
            page = client.get(path)
            assert page.status_code == 200, (username, path, page.text[:500])
            text = re.sub(r"<[^>]+>", " ", page.text)
            assert "v11" not in text and "t1 " not in text, (username, path)  # codes: hover only
    _console(client, "li")
    assert "东一村" in client.get("/console/tickets").text
    assert "李明" in client.get("/console/announcements").text  # the author, by name
    assert "东镇" in client.get("/console/schedules").text
    _console(client, "wang")
    dashboard = client.get("/console/").text
    assert 'id="stat-review">1<' in dashboard and "秸秆禁烧通知" in dashboard
    _console(client, "zhang")
    ticket = client.get(f"/console/tickets/{ids['ticket']}").text
    assert "村口喇叭" in ticket and "东一村" in ticket
    for path in ("/console/users", "/console/api-keys", "/console/speakers/new"):
        assert client.get(path).status_code == 403, path
