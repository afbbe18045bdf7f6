"""Where the shared media live: ``CUNXIANG_MEDIA_URL`` (``s3://bucket/prefix``) parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["S3Location", "parse_media_url"]

# S3's own rule for bucket names (also what MinIO, Ceph RGW, OSS and COS accept).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX_PART = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and a key prefix (empty, or ending with ``/``)."""

    bucket: str
    prefix: str = ""

    def key(self, name: str) -> str:
        """The object key of ``name`` under the prefix."""
        return f"{self.prefix}{name}"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_media_url(url: str) -> S3Location:
    """``s3://bucket`` or ``s3://bucket/some/prefix`` → its location; ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme != "s3":
        raise ValueError(f"expected s3://bucket/prefix, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"expected s3://bucket/prefix with nothing else, got {url!r}")
    bucket = parts.netloc
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise ValueError(f"{bucket!r} is not a valid bucket name")
    pieces = [p for p in parts.path.split("/") if p]
    if any(not _PREFIX_PART.fullmatch(p) or p in (".", "..") for p in pieces):
        raise ValueError(f"the prefix {parts.path!r} may hold only letters, digits, . _ - and /")
    return S3Location(bucket, "".join(f"{p}/" for p in pieces))
