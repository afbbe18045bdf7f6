"""Content-addressed media files: ``root/ab/<sha256>.mp3``, written atomically, never changed.

A file appears under its final name only once it is complete and on disk (temporary file
in the same directory → fsync → rename → fsync of the directory), so a reader, a crash or
a second writer never sees half a file. No database here.

:class:`MediaBackend` is what the rest of the service asks of a store; :class:`MediaStore`
(a local directory) is one, :class:`app.storage.s3.S3MediaStore` (an S3-compatible object
store shared by every node, with a local copy on each) the other. Both name files alike.
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
from typing import BinaryIO, Protocol

__all__ = ["MediaBackend", "MediaStore", "StoredMedia", "MediaStoreUnavailable", "is_sha256",
           "hash_file"]

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


class MediaStoreUnavailable(Exception):
    """The shared media store did not answer: 503, retry (nothing was stored).

    A plain exception (no web layer here); the API's error handler maps it."""

    code = "media_unavailable"
    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MediaBackend(Protocol):
    """A content-addressed store of immutable files; ``root`` is a local directory (the files
    themselves, or this node's copies of them) under which render caches live too."""

    root: Path

    def exists(self, sha256: str) -> bool:
        """True if a complete file with this hash is stored."""

    def size(self, sha256: str) -> int | None:
        """The stored file's size in bytes, None if it is not stored."""

    def local_path(self, sha256: str) -> Path | None:
        """A complete local copy of the file (fetched if need be), None if it is not stored."""

    def put_bytes(self, data: bytes) -> StoredMedia:
        """Store bytes under their hash; storing the same bytes again is a no-op."""

    def put_file(self, path: str | os.PathLike[str]) -> StoredMedia:
        """Copy a file into the store under its hash (the source is left as it was)."""


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

    def size(self, sha256: str) -> int | None:
        """The stored file's size in bytes, None if it is not stored."""
        path = self.local_path(sha256)
        return path.stat().st_size if path is not None else None

    def local_path(self, sha256: str) -> Path | None:
        """The file itself, None if it is not stored."""
        return self.path_for(sha256) if self.exists(sha256) else None

    def put_bytes(self, data: bytes) -> StoredMedia:
        """Store bytes under their hash; storing the same bytes again is a no-op."""
        sha256 = hashlib.sha256(data).hexdigest()
        target = self.path_for(sha256)
        if not target.is_file():
            self.write_atomically(target, lambda out: out.write(data))
        return StoredMedia(sha256, target, len(data))

    def put_file(self, path: str | os.PathLike[str]) -> StoredMedia:
        """Copy a file into the store under its hash (the source is left as it was)."""
        source = Path(path)
        sha256 = hash_file(source)
        target = self.path_for(sha256)
        if not target.is_file():
            with source.open("rb") as reader:
                self.write_atomically(target, lambda out: shutil.copyfileobj(reader, out, _CHUNK))
        return StoredMedia(sha256, target, target.stat().st_size)

    def write_atomically(self, target: Path, write: Callable[[BinaryIO], object]) -> None:
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


def hash_file(path: Path) -> str:
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
