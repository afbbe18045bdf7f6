"""A full media disk: an upload or an urgent broadcast with text answers 507 and stores nothing.

The media directory is a real 1 MB tmpfs, filled up (needs root to mount; skipped where the
machine does not allow it), so the failure is the kernel's ENOSPC, not a mock.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import session_scope
from tests.conftest import District

FILLER = "filler.bin"


def _free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


@pytest.fixture
def full_media_disk(env: dict[str, str]) -> Iterator[Path]:
    """CUNXIANG_MEDIA_DIR on a 1 MB tmpfs with about 8 KB left; its path."""
    media = Path(env["CUNXIANG_MEDIA_DIR"])
    media.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(media)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        (media / FILLER).write_bytes(b"\0" * (_free_bytes(media) - 8 * 1024))
        yield media
    finally:
        if subprocess.run(["umount", str(media)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(media)], check=True)


def _files(media: Path) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*")
                  if p.is_file() and p.name != FILLER)


def _count(model: type) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _wav(seconds: float = 3.0) -> bytes:
    """A real WAV tone (ffmpeg), about 100 KB: more than the disk has left."""
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-ac", "1", "-ar", "16000", "-f", "wav", "pipe:1"],
        check=True, capture_output=True).stdout


def test_an_upload_to_a_full_disk_is_507_and_leaves_nothing(
    full_media_disk: Path, client: TestClient, district: District,
) -> None:
    from app.media.models import MediaFile

    admin = district.admin
    created = client.post("/api/v1/announcements", headers=admin,
                          json={"title": "录音", "body": "录音稿。", "area": "d1"})
    assert created.status_code == 201, created.text
    announcement = created.json()
    answer = client.post(f"/api/v1/announcements/{announcement['id']}/recording",
                         headers=admin, files={"file": ("tone.wav", _wav(), "audio/wav")})
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"] == "storage_full"
    assert "full" in answer.json()["detail"]
    assert _files(full_media_disk) == []
    assert _count(MediaFile) == 0
    after = client.get(f"/api/v1/announcements/{announcement['id']}", headers=admin).json()
    assert after["revision"] == announcement["revision"] and after.get("recording") is None


def test_an_urgent_text_broadcast_on_a_full_disk_is_507_and_can_be_retried(
    full_media_disk: Path, client: TestClient, district: District,
) -> None:
    from app.broadcasts.models import Broadcast
    from app.playout.models import PlayOrder

    body = {"title": "防汛紧急通知", "level": 1, "targets": ["t1"],
            "text": "请各位村民立即转移到安全地带，远离河道和山塘水库。"}
    headers = {**district.admin, "Idempotency-Key": "full-disk-1"}
    answer = client.post("/api/v1/broadcasts", headers=headers, json=body)
    assert answer.status_code == 507, answer.text
    assert answer.json()["error"] == "storage_full"
    assert (_count(Broadcast), _count(PlayOrder)) == (0, 0)
    assert not [name for name in _files(full_media_disk) if name.endswith(".mp3")]

    (full_media_disk / FILLER).unlink()  # space freed: the same request now goes out
    retried = client.post("/api/v1/broadcasts", headers=headers, json=body)
    assert retried.status_code == 201, retried.text
    assert _count(PlayOrder) == 2
