"""The terminal's cache directory: verified media by hash, and small JSON state files.

Media are hashed and compared with the SHA-256 the program announced, written to a
temporary file beside their final name, flushed to disk and only then renamed:
a crash, a cut connection or a corrupted transfer never leaves a file under a real
name. The last program, the playout progress, the outbox and the clock offset are
JSON files written the same way, so the terminal plays on after a restart offline.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["MediaCache", "VerifyError", "write_json_atomically", "read_json"]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class VerifyError(ValueError):
    """A download whose bytes do not hash to the announced SHA-256."""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomically(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temporary file, fsync and rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def read_json(path: Path) -> Any:
    """The JSON in ``path``, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class MediaCache:
    """Media files under ``root/media/<sha256>.mp3`` and state files under ``root``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.media_dir = self.root / "media"
        self.media_dir.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        """Where the file with this hash lives once cached."""
        if not _SHA256.match(sha256):
            raise VerifyError(f"not a SHA-256: {sha256!r}")
        return self.media_dir / f"{sha256}.mp3"

    def has(self, sha256: str) -> bool:
        """True if the verified file is cached."""
        return bool(_SHA256.match(sha256)) and self.path(sha256).is_file()

    def store(self, sha256: str, data: bytes) -> int:
        """Write downloaded bytes under their hash if they match it; returns the size.

        Blocking (hashing, fsync): the terminal calls it from a worker thread.
        """
        target = self.path(sha256)
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise VerifyError(f"downloaded bytes hash to {actual}, not {sha256}")
        fd, temp = tempfile.mkstemp(dir=self.media_dir, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        _fsync_dir(self.media_dir)
        return len(data)

    def verify(self, sha256: str) -> bool:
        """Re-hash a cached file; a file that does not match is removed (False)."""
        path = self.path(sha256)
        digest = hashlib.sha256()
        try:
            with path.open("rb") as reader:
                for chunk in iter(lambda: reader.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            return False
        if digest.hexdigest() == sha256:
            return True
        path.unlink(missing_ok=True)
        return False

    def prune(self, keep: Iterable[str]) -> list[str]:
        """Delete cached media not in ``keep`` (and stale partial downloads); returns hashes."""
        wanted = set(keep)
        removed = []
        for path in self.media_dir.iterdir():
            if path.name.startswith(".incoming-") or (
                    path.suffix == ".mp3" and path.stem not in wanted):
                path.unlink(missing_ok=True)
                if path.suffix == ".mp3":
                    removed.append(path.stem)
        return removed

    def save(self, name: str, data: Any) -> None:
        """Persist a state file (``program``, ``playout``, ``outbox``, ``clock``)."""
        write_json_atomically(self.root / f"{name}.json", data)

    def load(self, name: str) -> Any:
        """A state file's content, or None."""
        return read_json(self.root / f"{name}.json")
