"""Setting the scene of a browser test through the API: a district, people, content, speakers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import ADMIN_PASSWORD, PASSWORD

DISTRICT = [("d1", "青山区", "district", None), ("t1", "东镇", "town", "d1"),
            ("t2", "西镇", "town", "d1"), ("v11", "东一村", "village", "t1"),
            ("v12", "东二村", "village", "t1"), ("v21", "西一村", "village", "t2")]


class Scene:
    """An API client acting as admin (or as another user: ``as_user``)."""

    def __init__(self, base_url: str, username: str = "admin",
                 password: str = ADMIN_PASSWORD) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60)
        answer = self.http.post("/api/v1/auth/token",
                                json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def as_user(self, username: str, password: str = PASSWORD) -> Scene:
        """The same server, acting as another user."""
        return Scene(self.base_url, username, password)

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        """One request; asserts the status; the JSON answer (None for 204)."""
        response = self.http.request(method, path, json=body, headers=self.headers)
        assert response.status_code == expect, (method, path, response.text)
        return response.json() if response.content else None

    def get(self, path: str) -> Any:
        """GET, 200."""
        return self.call("GET", path)

    def post(self, path: str, body: Any) -> Any:
        """POST that creates (201)."""
        return self.call("POST", path, body, expect=201)

    def district(self) -> Scene:
        """青山区: towns 东镇 (t1: 东一村 v11, 东二村 v12) and 西镇 (t2: 西一村 v21)."""
        for code, name, level, parent in DISTRICT:
            self.post("/api/v1/areas", {"code": code, "name": name, "level": level,
                                        "parent": parent})
        return self

    def user(self, username: str, role: str, area: str | None, name: str) -> None:
        """A user with the common test password."""
        self.post("/api/v1/users", {"username": username, "password": PASSWORD, "role": role,
                                    "area": area, "name": name})
