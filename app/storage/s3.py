"""Media in an S3-compatible object store, shared by every node; each node keeps local copies.

Objects are named like the local store's files (``<prefix>ab/<sha256>.mp3``) and never
change, so a write is check-then-put: a HEAD, and a PUT only when the object is missing
(a PUT is atomic per object: readers see the whole file or none; two nodes putting the
same hash put the same bytes). Every file stored through a node, and every file it serves,
also lies in its local directory (the same atomic local writes as :class:`MediaStore`):
``/media/{sha256}`` is then answered from local disk with Range and ETag like before, and a
burst of terminals fetching one urgent broadcast costs the object store one GET per node.
A copy fetched from the store is checked against its hash before it is used.

Works with AWS S3, MinIO, Ceph RGW, Aliyun OSS and Tencent COS (no newer checksum
headers are sent unless required, since not every S3-compatible server knows them).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar

from app.storage.location import S3Location
from app.storage.store import (
    MediaStore,
    MediaStoreUnavailable,
    StoredMedia,
    hash_file,
    is_sha256,
)

__all__ = ["S3MediaStore", "make_s3_client", "CACHE_CONTROL"]

log = logging.getLogger(__name__)

CACHE_CONTROL = "public, max-age=31536000, immutable"
_CHUNK = 1024 * 1024
_LOCKS = 64  # striped locks: one download per hash at a time, without a lock per hash
_TOUCH_AFTER_S = 86400  # a copy's mtime says when it was last used, to a day
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
T = TypeVar("T")


def make_s3_client(
    *, endpoint_url: str | None, region: str, access_key_id: str | None,
    secret_access_key: str | None, addressing_style: str,
) -> Any:
    """A boto3 S3 client (thread-safe) for these settings; credentials default to boto3's
    own chain (``AWS_ACCESS_KEY_ID`` …) when not given."""
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": addressing_style},
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5, read_timeout=30, max_pool_connections=32,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint_url, region_name=region, aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key, config=config,
    )


class S3MediaStore:
    """Content-addressed files in a bucket; ``root`` holds this node's local copies."""

    def __init__(self, location: S3Location, *, client: Any, root: str | os.PathLike[str],
                 suffix: str = ".mp3") -> None:
        self.location = location
        self.client = client
        self.copies = MediaStore(root, suffix=suffix)
        self.root = self.copies.root
        self.suffix = suffix
        self._locks = [threading.Lock() for _ in range(_LOCKS)]

    def __repr__(self) -> str:
        return f"S3MediaStore({str(self.location)!r}, copies in {str(self.root)!r})"

    def key_for(self, sha256: str) -> str:
        """The object key of the file with this hash."""
        if not is_sha256(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.location.key(f"{sha256[:2]}/{sha256}{self.suffix}")

    def path_for(self, sha256: str) -> Path:
        """Where this node's copy of the file lies (whether or not it is there yet)."""
        return self.copies.path_for(sha256)

    def exists(self, sha256: str) -> bool:
        """True if the object is stored (a local copy proves it: copies come from the store)."""
        return is_sha256(sha256) and (self.copies.exists(sha256) or self._head(sha256) is not None)

    def size(self, sha256: str) -> int | None:
        """The stored file's size in bytes, None if it is not stored."""
        if not is_sha256(sha256):
            return None
        local = self.copies.size(sha256)
        return local if local is not None else self._head(sha256)

    def local_path(self, sha256: str) -> Path | None:
        """This node's copy of the file, fetched from the store if need be; None if unknown."""
        if not is_sha256(sha256):
            return None
        path = self.copies.path_for(sha256)
        if not path.is_file():
            with self._locks[zlib.crc32(sha256.encode()) % _LOCKS]:
                if not path.is_file() and not self._fetch(sha256, path):
                    return None
        _mark_used(path)
        return path

    def put_bytes(self, data: bytes) -> StoredMedia:
        """Store bytes under their hash (one PUT unless already stored) and keep a copy."""
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            self._call(lambda: self._put(sha256, data, len(data)))
        return self.copies.put_bytes(data)

    def put_file(self, path: str | os.PathLike[str]) -> StoredMedia:
        """Copy a file into the store under its hash (the source is left as it was)."""
        source = Path(path)
        sha256 = hash_file(source)
        if not self.exists(sha256):
            size = source.stat().st_size
            with source.open("rb") as reader:
                self._call(lambda: self._put(sha256, reader, size))
        return self.copies.put_file(source)

    def check(self) -> None:
        """Raise :class:`MediaStoreUnavailable` unless the bucket answers (readiness)."""
        self._call(lambda: self.client.head_bucket(Bucket=self.location.bucket))

    def prune_copies(self, *, unused_for_s: float, now: float | None = None) -> int:
        """Remove local copies not used for ``unused_for_s`` (the store keeps them); count."""
        now = time.time() if now is None else now
        removed = 0
        for path in self.root.glob(f"??/*{self.suffix}"):
            try:
                if now - path.stat().st_mtime >= unused_for_s:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

    def _put(self, sha256: str, body: bytes | IO[bytes], size: int) -> None:
        self.client.put_object(
            Bucket=self.location.bucket, Key=self.key_for(sha256), Body=body,
            ContentLength=size, ContentType="audio/mpeg", CacheControl=CACHE_CONTROL,
        )

    def _head(self, sha256: str) -> int | None:
        try:
            answer = self._call(lambda: self.client.head_object(
                Bucket=self.location.bucket, Key=self.key_for(sha256)))
        except _Missing:
            return None
        return int(answer["ContentLength"])

    def _fetch(self, sha256: str, target: Path) -> bool:
        """Download the object to ``target`` (atomically, hash checked); False if missing."""
        try:
            answer = self._call(lambda: self.client.get_object(
                Bucket=self.location.bucket, Key=self.key_for(sha256)))
        except _Missing:
            return False
        body = answer["Body"]
        try:
            self._call(lambda: self.copies.write_atomically(
                target, lambda out: _copy_checked(body, out, sha256)))
        finally:
            body.close()
        return True

    def _call(self, action: Callable[[], T]) -> T:
        """Run one request; a missing object raises ``_Missing``, any other failure
        :class:`MediaStoreUnavailable`."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return action()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise _Missing from None
            log.error("media store %s refused a request: %s", self.location, exc)
            raise MediaStoreUnavailable(
                f"the media store refused the request ({code or 'error'})") from None
        except (BotoCoreError, _Corrupt, OSError) as exc:
            log.error("media store %s failed: %s", self.location, exc)
            raise MediaStoreUnavailable(f"the media store is unreachable or failed: {exc}"
                                        ) from None


class _Missing(Exception):
    """The object is not in the store."""


class _Corrupt(Exception):
    """A fetched object does not match its hash."""


def _copy_checked(body: Any, out: BinaryIO, sha256: str) -> None:
    digest = hashlib.sha256()
    for chunk in body.iter_chunks(_CHUNK):
        digest.update(chunk)
        out.write(chunk)
    if digest.hexdigest() != sha256:
        raise _Corrupt(f"the stored object {sha256} does not match its hash")


def _mark_used(path: Path) -> None:
    """Refresh a copy's mtime (at most once a day), so pruning keeps what is used."""
    try:
        if time.time() - path.stat().st_mtime > _TOUCH_AFTER_S:
            os.utime(path)
    except OSError:
        pass
