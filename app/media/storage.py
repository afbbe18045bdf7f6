"""Content-addressed media files: ``root/ab/<sha256>.mp3``, written atomically, never changed.

A file appears under its final name only once it is complete and on disk (temporary file
in the same directory → fsync → rename → fsync of the directory), so a reader, a crash or
a second writer never sees half a file. No database here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["MediaStore", "StoredMedia", "is_sha256"]

_SHA256 = re.compile(r"[0-9a-f]{64}")
_CHUNK = 1024 * 1024


def is_sha256(value: str) -> bool:
    """True for a lowercase hex SHA-256 digest (the only names the store hands out)."""
    return bool(_SHA256.fullmatch(value))


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """A file in the store: its content hash, where it lies and its size in bytes."""

    sha256: str
    path: Path
    size: int


class MediaStore:
    """Immutable files named by the SHA-256 of their bytes, under ``root``."""

    def __init__(self, root: str | os.PathLike[str], *, suffix: str = ".mp3") -> None:
        self.root = Path(root)
        self.suffix = suffix

    def __repr__(self) -> str:
        return f"MediaStore({str(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MediaStore) and (self.root, self.suffix) == (
            other.root,
            other.suffix,
        )

    def __hash__(self) -> int:
        return hash((self.root, self.suffix))

    def path_for(self, sha256: str) -> Path:
        """Where the file with this hash lives (whether or not it exists yet)."""
        if not is_sha256(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / f"{sha256}{self.suffix}"

    def exists(self, sha256: str) -> bool:
        """True if a complete file with this hash is stored."""
        return is_sha256(sha256) and self.path_for(sha256).is_file()

    def put_bytes(self, data: bytes) -> StoredMedia:
        """Store bytes under their hash; storing the same bytes again is a no-op."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha256)
        if not target.is_file():
            self._write_atomically(target, lambda out: out.write(data))
        return StoredMedia(sha256, target, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> StoredMedia:
        """Copy a file into the store under its hash (the source is left as it was)."""
        source = Path(path)
        sha256 = _hash_file(source)
        target = self.path_for(sha256)
        if not target.is_file():
            with source.open("rb") as reader:
                self._write_atomically(target, lambda out: shutil.copyfileobj(reader, out, _CHUNK))
        return StoredMedia(sha256, target, target.stat().st_size)

    def _write_atomically(self, target: Path, write: Callable[[BinaryIO], object]) -> None:
        """Temp file beside ``target`` → fsync → rename → fsync dir; no leftovers on failure."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out:
                write(out)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp_name, 0o644)
            os.replace(temp_name, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        _fsync_directory(target.parent)


def _hash_file(path: Path) -> str:
    """SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        for chunk in iter(lambda: reader.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_directory(directory: Path) -> None:
    """Make a rename durable: the directory entry must reach the disk too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
