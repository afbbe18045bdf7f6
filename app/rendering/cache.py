"""On-disk cache of synthesised speech and of finished renders, so nothing is made twice.

Speech is stored as WAV (the header's length lets a torn file be recognised and ignored);
a finished render is a small JSON record pointing at the stored MP3. A hit touches the
file, so :meth:`RenderCache.prune` (run daily by the retention job) removes only what has
not been used for ``CUNXIANG_RENDER_CACHE_DAYS``; a pruned entry is simply made again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.rendering.pcm import SAMPLE_RATE, SAMPLE_WIDTH, pcm_to_wav

__all__ = ["RenderCache", "PruneResult", "cache_key"]

_LEFTOVER_S = 3600  # a write's temporary file older than this belongs to a dead process


@dataclass(frozen=True)
class PruneResult:
    """Files a pruning removed and the bytes it freed."""

    files: int = 0
    bytes: int = 0


def cache_key(*parts: str) -> str:
    """SHA-256 of the parts joined by ``|``."""
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


class RenderCache:
    """A directory of cached speech (``speech/``) and render records (``renders/``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, kind: str, key: str, suffix: str) -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def get_speech(self, key: str) -> bytes | None:
        """Cached PCM for ``key``, or None (also for a torn or foreign file)."""
        path = self._path("speech", key, ".wav")
        try:
            data = path.read_bytes()
            _touch(path)
            with wave.open(io.BytesIO(data)) as reader:
                if (reader.getframerate(), reader.getsampwidth()) != (SAMPLE_RATE, SAMPLE_WIDTH):
                    return None
                expected = reader.getnframes() * SAMPLE_WIDTH
                frames = reader.readframes(reader.getnframes())
        except (OSError, wave.Error, EOFError):
            return None
        return frames if len(frames) == expected else None

    def put_speech(self, key: str, pcm: bytes) -> None:
        """Remember synthesised PCM under ``key``."""
        _write(self._path("speech", key, ".wav"), pcm_to_wav(pcm))

    def get_render(self, key: str) -> dict[str, Any] | None:
        """The record of a finished render, or None."""
        path = self._path("renders", key, ".json")
        try:
            record = json.loads(path.read_text("utf-8"))
            _touch(path)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def put_render(self, key: str, record: dict[str, Any]) -> None:
        """Remember a finished render."""
        _write(self._path("renders", key, ".json"), json.dumps(record).encode("utf-8"))


    def prune(self, *, unused_for_s: float, now: float | None = None) -> PruneResult:
        """Remove entries not used for ``unused_for_s`` seconds, and dead writes' leftovers."""
        now = time.time() if now is None else now
        files = freed = 0
        for kind in ("speech", "renders"):
            for path in (self.root / kind).glob("*/*"):
                leftover = path.name.startswith(".incoming-")
                try:
                    stat = path.stat()
                    if now - stat.st_mtime < (_LEFTOVER_S if leftover else unused_for_s):
                        continue
                    path.unlink()
                except FileNotFoundError:  # another process pruned or replaced it
                    continue
                files, freed = files + 1, freed + stat.st_size
        return PruneResult(files, freed)


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):  # a read-only cache still serves
        os.utime(path)


def _write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so readers see all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
