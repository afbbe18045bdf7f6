"""Which media store a process uses: a local directory, or an S3-compatible object store.

:class:`MediaConfig` carries what is needed to open the store (it pickles, so a render
worker process opens the same store without reading the environment); :func:`open_store`
opens it once per configuration and process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from app.storage.location import parse_media_url
from app.storage.store import MediaBackend, MediaStore

__all__ = ["MediaConfig", "open_store"]


@dataclass(frozen=True)
class MediaConfig:
    """``CUNXIANG_MEDIA_DIR`` and, for shared media, ``CUNXIANG_MEDIA_URL`` with the S3 settings."""

    local_dir: str
    url: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    addressing_style: str = "auto"

    @property
    def shared(self) -> bool:
        """True when media live in an object store shared by every node."""
        return bool(self.url)


@lru_cache(maxsize=8)
def open_store(config: MediaConfig) -> MediaBackend:
    """The store of ``config`` (one per process and configuration: an S3 client is costly)."""
    if not config.url:
        return MediaStore(config.local_dir)
    from app.storage.s3 import S3MediaStore, make_s3_client

    client = make_s3_client(
        endpoint_url=config.endpoint_url, region=config.region,
        access_key_id=config.access_key_id, secret_access_key=config.secret_access_key,
        addressing_style=config.addressing_style,
    )
    return S3MediaStore(parse_media_url(config.url), client=client, root=config.local_dir)
