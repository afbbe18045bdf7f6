"""Helpers shared by the announcement, playlist and media tests: workflow steps and audio checks."""

from __future__ import annotations

import json
import math
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyloudnorm
from fastapi.testclient import TestClient

Headers = dict[str, str]

SHORT_TEXT = "村民们请注意，明天上午九点在村委会开会。"


class People:
    """Users of the test district, created (and logged in) the first time a test needs them."""

    ROLES = {
        "staff": ("zhang", "staff", "t1"),
        "staff2": ("wang", "staff", "t2"),
        "reviewer": ("li", "reviewer", "t1"),
        "reviewer_t2": ("zhao", "reviewer", "t2"),
        "district_reviewer": ("chen", "reviewer", "d1"),
        "admin2": ("admin2", "admin", None),
    }

    def __init__(self, district: Any) -> None:
        self.district = district
        self._made: dict[str, Headers] = {"admin": district.admin}

    def __getitem__(self, key: str) -> Headers:
        if key not in self._made:
            username, role, area = self.ROLES[key]
            self._made[key] = self.district.user(username, role, area)
        return self._made[key]


def create(client: TestClient, headers: Headers, *, area: str = "t1", title: str = "开会通知",
           body: str = SHORT_TEXT, category: str | None = None) -> dict[str, Any]:
    """Create an announcement through the API; asserts 201."""
    payload = {"title": title, "body": body, "area": area}
    if category is not None:
        payload["category"] = category
    response = client.post("/api/v1/announcements", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def action(client: TestClient, headers: Headers, ann_id: str, name: str,
           expect: int = 200, **body: Any) -> dict[str, Any]:
    """POST an action (submit, approve, reject, render); asserts the status."""
    response = client.post(f"/api/v1/announcements/{ann_id}/{name}", headers=headers,
                           json=body or None)
    assert response.status_code == expect, response.text
    return response.json()


def approved(client: TestClient, author: Headers, reviewer: Headers,
             **kwargs: Any) -> dict[str, Any]:
    """Create, submit and approve an announcement; returns it as approved."""
    ann = create(client, author, **kwargs)
    action(client, author, ann["id"], "submit")
    return action(client, reviewer, ann["id"], "approve")


def wait_for_audio(client: TestClient, headers: Headers, ann_id: str,
                   timeout: float = 60) -> dict[str, Any]:
    """Poll GET until the announcement's audio is ready or failed; returns the audio."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/api/v1/announcements/{ann_id}", headers=headers)
        assert response.status_code == 200, response.text
        audio = response.json()["audio"]
        if audio is not None and audio["status"] in ("ready", "failed"):
            return audio
        time.sleep(0.1)
    raise AssertionError(f"audio of {ann_id} not rendered within {timeout} s")


def ffprobe(target: str | Path, *extra: str) -> dict[str, Any]:
    """ffprobe's JSON view of a file or URL (format and streams); asserts it can read it."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", *extra, "-show_entries",
         "format=format_name,duration:stream=codec_name,channels,sample_rate",
         "-of", "json", str(target)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def decode(data: bytes, rate: int = 48000) -> np.ndarray:
    """Decode audio bytes with ffmpeg to mono float samples at ``rate``."""
    result = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", "pipe:0", "-ac", "1", "-ar", str(rate), "-f", "f32le",
         "pipe:1"], input=data, capture_output=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return np.frombuffer(result.stdout, dtype=np.float32)


def loudness_and_peak(data: bytes) -> tuple[float, float]:
    """Integrated loudness (LUFS, pyloudnorm's BS.1770 meter) and sample peak (dBFS)."""
    samples = decode(data).astype(np.float64)
    lufs = pyloudnorm.Meter(48000).integrated_loudness(samples)
    peak = float(np.max(np.abs(samples)))
    return float(lufs), 20 * math.log10(peak) if peak > 0 else -math.inf


def speech_wav(path: Path, text: str = SHORT_TEXT) -> Path:
    """A real spoken WAV made by espeak-ng (its Mandarin voice)."""
    subprocess.run(["espeak-ng", "-v", "cmn", "-w", str(path), text], check=True, timeout=60)
    return path


def convert(source: Path, target: Path, *args: str) -> Path:
    """Re-encode ``source`` with ffmpeg (codec options in ``args``)."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(source), *args, str(target)],
                   check=True, timeout=60)
    return target


def amr_file(path: Path, seconds: float = 2.0) -> Path:
    """An AMR-NB file (RFC 4867 storage format, 12.2 kbit/s frames).

    ffmpeg ships no AMR encoder, so the frames' bits are random: decoded, they are valid
    AMR speech frames that sound like noise — enough to prove the upload is decoded.
    """
    rng = np.random.default_rng(7)
    frames = [b"\x3c" + rng.integers(0, 256, 31, dtype=np.uint8).tobytes()
              for _ in range(int(seconds * 50))]
    path.write_bytes(b"#!AMR\n" + b"".join(frames))
    return path


def stop_render_worker(client: TestClient) -> None:
    """Stop the app's render worker: renders then stay pending until a worker starts again."""
    worker = client.app.state.render_worker  # type: ignore[attr-defined]
    client.portal.call(worker.stop)  # type: ignore[union-attr,call-arg]


def files_under(root: Path) -> list[Path]:
    """Every file below ``root`` (empty if it does not exist)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


EVENT_NAMES = ("announcement.approved", "announcement.audio_ready", "playlist.changed")


def record_events() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Subscribe to the content events for the duration of a test; yields what was emitted."""
    from app.runtime import events

    seen: list[tuple[str, dict[str, Any]]] = []
    handlers = {}
    for name in EVENT_NAMES:
        def handler(session: Any, _name: str = name, **data: Any) -> None:
            seen.append((_name, data))
        handlers[name] = handler
        events.subscribe(name, handler)
    yield seen
    for name, handler in handlers.items():
        events.unsubscribe(name, handler)
