"""Broadcast fixtures: terminals, stored media and content made through the API, and helpers."""

from __future__ import annotations

import io
import math
import struct
import time
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import District


def tone_wav(seconds: float = 1.0, frequency: float = 440.0, rate: int = 16000) -> bytes:
    """A real, small WAV: a sine tone at −12 dBFS."""
    frames = int(seconds * rate)
    samples = (int(8000 * math.sin(2 * math.pi * frequency * n / rate)) for n in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


def wait_for(check: Callable[[], Any], timeout: float = 10.0, every: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last: {value!r})")
        time.sleep(every)


class Terminal:
    """A registered speaker talking the terminal protocol by hand (no player)."""

    def __init__(
        self,
        client: TestClient,
        admin: dict[str, str],
        village: str,
        *,
        serial: str,
        lat: float | None = None,
        lon: float | None = None,
    ) -> None:
        self.client, self.admin, self.village = client, admin, village
        self.serial = serial
        body: dict[str, Any] = {"serial": serial, "village": village}
        if lat is not None and lon is not None:
            body.update(lat=lat, lon=lon)
        response = client.post("/api/v1/speakers", json=body, headers=admin)
        assert response.status_code == 201, response.text
        self.id = response.json()["id"]
        self.headers = {"Authorization": f"Bearer {response.json()['token']}"}

    def heartbeat(self, wait_online: bool = True) -> None:
        """Report healthy and, by default, wait until the server counts the speaker online."""
        response = self.client.post(
            "/terminal/v1/heartbeat", headers=self.headers, json={"status": "ok", "power": "mains"}
        )
        assert response.status_code == 200, response.text
        if wait_online:
            wait_for(
                lambda: (
                    self.client.get(f"/api/v1/speakers/{self.id}", headers=self.admin).json()[
                        "status"
                    ]
                    == "online"
                )
            )

    def program(self) -> dict[str, Any]:
        """The current program (a fetch: the orders count as delivered)."""
        response = self.client.get("/terminal/v1/program", headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def urgent_orders(self) -> list[dict[str, Any]]:
        """The urgent orders of the program."""
        return [o for o in self.program()["orders"] if o["kind"] == "urgent"]

    def receipt(self, order: str, event: str) -> None:
        """Report one event of one order, stamped now."""
        from datetime import UTC, datetime

        response = self.client.post(
            "/terminal/v1/receipts",
            headers=self.headers,
            json=[{"order": order, "event": event, "at": datetime.now(UTC).isoformat()}],
        )
        assert response.status_code == 200, response.text


class Stored:
    """Audio stored the way staff store it: a recording attached to an announcement."""

    def __init__(self, client: TestClient, admin: dict[str, str]) -> None:
        self.client, self.admin = client, admin

    def recording(self, seconds: float = 1.0, frequency: float = 440.0) -> dict[str, Any]:
        """Upload a tone as an announcement's recording; its ``{sha256, url, duration_ms}``."""
        created = self.client.post(
            "/api/v1/announcements",
            headers=self.admin,
            json={"title": "录音", "body": "录音稿。", "area": "d1"},
        )
        assert created.status_code == 201, created.text
        announcement = created.json()["id"]
        uploaded = self.client.post(
            f"/api/v1/announcements/{announcement}/recording",
            headers=self.admin,
            files={"file": ("tone.wav", tone_wav(seconds, frequency), "audio/wav")},
        )
        assert uploaded.status_code == 200, uploaded.text
        return dict(uploaded.json()["recording"])


@pytest.fixture
def stored(client: TestClient, district: District) -> Stored:
    """Store audio through the API."""
    return Stored(client, district.admin)


@pytest.fixture
def terminal(client: TestClient, district: District) -> Callable[..., Terminal]:
    """Register a terminal: ``terminal("v11", lat=…, lon=…)``."""
    count = 0

    def make(village: str, *, lat: float | None = None, lon: float | None = None) -> Terminal:
        nonlocal count
        count += 1
        return Terminal(
            client, district.admin, village, serial=f"SN-{village}-{count}", lat=lat, lon=lon
        )

    return make


def broadcast_body(**overrides: Any) -> dict[str, Any]:
    """A valid request body (level II to town t1); override any field, ``None`` drops it."""
    body: dict[str, Any] = {"title": "防汛紧急通知", "level": 2, "targets": ["t1"]}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


@pytest.fixture(scope="session")
def shared_media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One media directory for every broadcast test of the session."""
    return tmp_path_factory.mktemp("broadcast-media")


@pytest.fixture
def env(
    env: dict[str, str], shared_media_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The test environment with the shared media directory.

    Files (and the render cache beside them) outlive a test, rows do not: the same text or
    recording is made once per session, yet every test records its own media rows.
    """
    from app.config import reset_settings

    monkeypatch.setenv("CUNXIANG_MEDIA_DIR", str(shared_media_dir))
    env["CUNXIANG_MEDIA_DIR"] = str(shared_media_dir)
    reset_settings()
    return env
