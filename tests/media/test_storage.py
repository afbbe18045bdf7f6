"""Content-addressed media store: atomic, idempotent, named by SHA-256, no leftovers."""

from __future__ import annotations

import hashlib
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from app.storage.store import MediaStore, is_sha256

DATA = b"ID3\x03\x00fake mp3 bytes for the store" * 100


def _all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_bytes_are_stored_under_their_hash(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    stored = store.put_bytes(DATA)
    sha = hashlib.sha256(DATA).hexdigest()
    assert stored.sha256 == sha and stored.size == len(DATA)
    assert stored.path == tmp_path / sha[:2] / f"{sha}.mp3"
    assert stored.path.read_bytes() == DATA
    assert store.exists(sha) and store.path_for(sha) == stored.path
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o644
    assert _all_files(tmp_path) == [stored.path]


def test_storing_the_same_bytes_again_changes_nothing(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    first = store.put_bytes(DATA)
    mtime = first.path.stat().st_mtime_ns
    second = store.put_bytes(DATA)
    assert second == first and first.path.stat().st_mtime_ns == mtime


def test_a_file_is_copied_in_and_the_source_left_alone(tmp_path: Path) -> None:
    source = tmp_path / "upload.bin"
    source.write_bytes(DATA)
    store = MediaStore(tmp_path / "media")
    stored = store.put_file(source)
    assert stored.sha256 == hashlib.sha256(DATA).hexdigest()
    assert stored.path.read_bytes() == DATA and source.read_bytes() == DATA


def test_concurrent_writers_of_the_same_content_agree(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: store.put_bytes(DATA), range(16)))
    assert {r.path for r in results} == {results[0].path}
    assert _all_files(tmp_path) == [results[0].path]
    assert results[0].path.read_bytes() == DATA


def test_a_failed_write_leaves_no_file_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MediaStore(tmp_path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.put_bytes(DATA)
    assert _all_files(tmp_path) == []
    assert not store.exists(hashlib.sha256(DATA).hexdigest())


def test_only_sha256_names_are_paths(tmp_path: Path) -> None:
    store = MediaStore(tmp_path)
    for bad in ["../../etc/passwd", "ABC", "a" * 63, "A" * 64, ""]:
        assert not is_sha256(bad) and not store.exists(bad)
        with pytest.raises(ValueError):
            store.path_for(bad)
