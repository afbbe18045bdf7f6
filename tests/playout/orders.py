"""Helpers of the terminal-protocol, playlog, speaker and terminal tests: media, orders."""

from __future__ import annotations

import functools
import json
import subprocess
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

Headers = dict[str, str]


@functools.lru_cache(maxsize=8)
def tiny_mp3(seconds: float = 1.0, frequency: int = 440) -> bytes:
    """A real MP3 of a sine tone, made by ffmpeg (cached per process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tone.mp3"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi",
             "-i", f"sine=frequency={frequency}:duration={seconds}", "-ac", "1", "-ar", "22050",
             "-b:a", "32k", str(out)], check=True)
        return out.read_bytes()


def probe_ms(data: bytes) -> int:
    """The duration ffprobe reads from an MP3, in milliseconds."""
    with tempfile.NamedTemporaryFile(suffix=".mp3") as tmp:
        tmp.write(data)
        tmp.flush()
        out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                              "-of", "json", tmp.name], check=True, capture_output=True)
    return round(float(json.loads(out.stdout)["format"]["duration"]) * 1000)


def store_media(seconds: float = 1.0, frequency: int = 440, title: str = "tone") -> dict[str, Any]:
    """Store a tone in the media dir, record its row; returns the order's media item."""
    from app.db import session_scope
    from app.media.service import media_store, record_media

    data = tiny_mp3(seconds, frequency)
    stored = media_store().put_bytes(data)
    duration = probe_ms(data)
    with session_scope() as session:
        record_media(session, sha256=stored.sha256, kind="recording", size_bytes=stored.size,
                     duration_ms=duration, title=title)
    return {"url": f"/media/{stored.sha256}", "sha256": stored.sha256, "duration_ms": duration,
            "title": title}


def insert_order(
    village: str, start_at: datetime, media: list[dict[str, Any]], *, kind: str = "routine",
    level: int | None = None, mode: str = "actual", loop: int = 1,
    not_after: datetime | None = None, state: str = "issued", title: str = "通知",
    schedule_id: str | None = "sch_test", broadcast_id: str | None = None,
) -> str:
    """Insert one play order and bump its village's program (as the issuers do); returns its id."""
    from app.db import session_scope
    from app.playout.models import PlayOrder
    from app.playout.program import bump_program_versions

    duration = sum(int(m["duration_ms"]) for m in media)
    with session_scope() as session:
        order = PlayOrder(
            kind=kind, village_code=village, start_at=start_at,
            not_after=not_after or start_at + timedelta(milliseconds=loop * duration)
            + timedelta(minutes=15),
            loop=loop, volume=80, mode=mode, level=level,
            priority=(5 - level) if kind == "urgent" and level else 0, title=title,
            media=media, duration_ms=duration, state=state,
            schedule_id=schedule_id if kind == "routine" else None,
            broadcast_id=(broadcast_id or "brd_test") if kind == "urgent" else None,
        )
        session.add(order)
        session.flush()
        bump_program_versions(session, [village])
        return order.id


def set_order_state(order_id: str, state: str) -> None:
    """Change an order's state and bump its village (a cancellation or withdrawal)."""
    from app.db import session_scope
    from app.playout.models import PlayOrder
    from app.playout.program import bump_program_versions

    with session_scope() as session:
        order = session.get(PlayOrder, order_id)
        assert order is not None
        order.state = state
        bump_program_versions(session, [order.village_code])


def order_row(order_id: str) -> Any:
    """The stored order (detached)."""
    from app.db import session_scope
    from app.playout.models import PlayOrder

    with session_scope() as session:
        return session.get(PlayOrder, order_id)


def register(client: Any, headers: Headers, village: str, serial: str,
             **extra: Any) -> dict[str, Any]:
    """Register a speaker through the API (TestClient or httpx.Client); asserts 201."""
    response = client.post("/api/v1/speakers", json={"serial": serial, "village": village,
                                                     **extra}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> Headers:
    """Authorization headers for a token."""
    return {"Authorization": f"Bearer {token}"}


def heartbeat(client: TestClient, token: str, **body: Any) -> Any:
    """Send a heartbeat (ok, mains by default)."""
    return client.post("/terminal/v1/heartbeat", json={"status": "ok", "power": "mains", **body},
                       headers=bearer(token))
