"""Schedule fixtures: approved, rendered content made through the content API, and helpers."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import District


class Content:
    """Announcements and playlists made the way staff make them: write, submit, approve, render."""

    def __init__(self, client: TestClient, district: District) -> None:
        self.client = client
        self.writer = district.user("writer", "staff", "d1")
        self.reviewer = district.user("checker", "reviewer", "d1")
        self._count = 0

    def announcement(self, body: str = "请注意防火。", *, title: str | None = None,
                     area: str = "d1", wait: bool = True) -> str:
        """An approved announcement (its audio rendered when ``wait``); its id."""
        self._count += 1
        response = self.client.post("/api/v1/announcements", headers=self.writer, json={
            "title": title or f"通知{self._count}", "body": body, "area": area})
        assert response.status_code == 201, response.text
        announcement_id = response.json()["id"]
        self.approve(announcement_id, wait=wait)
        return announcement_id

    def draft(self, body: str = "草稿。", *, area: str = "d1") -> str:
        """An announcement never submitted nor approved; its id."""
        response = self.client.post("/api/v1/announcements", headers=self.writer, json={
            "title": "草稿", "body": body, "area": area})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def approve(self, announcement_id: str, *, wait: bool = True) -> None:
        """Submit and approve the current revision; wait for its audio when asked."""
        submitted = self.client.post(f"/api/v1/announcements/{announcement_id}/submit",
                                     headers=self.writer)
        assert submitted.status_code == 200, submitted.text
        approved = self.client.post(f"/api/v1/announcements/{announcement_id}/approve",
                                    headers=self.reviewer)
        assert approved.status_code == 200, approved.text
        if wait:
            self.wait_ready(announcement_id)

    def revise(self, announcement_id: str, body: str) -> None:
        """A new revision of the script (draft until approved)."""
        response = self.client.patch(f"/api/v1/announcements/{announcement_id}",
                                     headers=self.writer, json={"body": body})
        assert response.status_code == 200, response.text

    def wait_ready(self, announcement_id: str, timeout: float = 60) -> dict[str, Any]:
        """Wait until the announcement's approved audio is rendered; its audio block."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.client.get(f"/api/v1/announcements/{announcement_id}",
                                   headers=self.writer).json()
            audio = body.get("audio") or {}
            if audio.get("status") == "ready":
                return audio
            assert audio.get("status") != "failed", body
            time.sleep(0.05)
        raise AssertionError(f"audio of {announcement_id} not ready in {timeout} s")

    def playlist(self, *items: dict[str, Any], area: str = "d1", gap_ms: int = 0,
                 name: str | None = None) -> dict[str, Any]:
        """A playlist of the given items (no chime); the API's answer."""
        self._count += 1
        response = self.client.post("/api/v1/playlists", headers=self.writer, json={
            "name": name or f"节目{self._count}", "area": area, "items": list(items),
            "chime": None, "gap_ms": gap_ms})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def ready_playlist(self, *, area: str = "d1", body: str = "请注意防火。") -> dict[str, Any]:
        """A playlist of one approved, rendered announcement."""
        return self.playlist({"announcement": self.announcement(body, area=area)}, area=area)


@pytest.fixture
def content(client: TestClient, district: District) -> Content:
    """Makes approved, rendered announcements and playlists through the API."""
    return Content(client, district)


def orders(state: str | None = "issued", **where: Any) -> list[Any]:
    """Play orders in the database (issued ones by default), by start then village."""
    from app.db import session_scope
    from app.playout.models import PlayOrder

    stmt = select(PlayOrder)
    if state is not None:
        stmt = stmt.where(PlayOrder.state == state)
    for name, value in where.items():
        stmt = stmt.where(getattr(PlayOrder, name) == value)
    with session_scope() as session:
        found = list(session.scalars(stmt.order_by(PlayOrder.start_at, PlayOrder.village_code)))
        session.expunge_all()
    return found


def program_versions() -> dict[str, int]:
    """Each village's program version."""
    from app.db import session_scope
    from app.playout.models import VillageProgram

    with session_scope() as session:
        rows = session.execute(select(VillageProgram.village_code, VillageProgram.version))
        return {code: version for code, version in rows}


def local(moment: datetime | str, zone: str = "Asia/Shanghai") -> str:
    """A time as 'MM-DD HH:MM' local (for readable assertions)."""
    from zoneinfo import ZoneInfo

    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M")
