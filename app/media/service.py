"""Media rows: recording stored files, finding them, and the generated parts of playlists.

A file reaches the store (atomically, by ``MediaStore``) before its row is written, so a row
always names a complete file. Silences and chimes are made once, found again by their
``label`` and shared by every playlist.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.media.models import MediaFile
from app.rendering.chimes import load_chime
from app.rendering.pcm import silence
from app.rendering.pipeline import TARGET_LUFS, Mastered, master_to_mp3
from app.storage.backend import MediaConfig, open_store
from app.storage.store import MediaBackend, StoredMedia, is_sha256

__all__ = [
    "media_config",
    "media_store",
    "get_media",
    "stored_path",
    "record_media",
    "silence_media",
    "chime_media",
    "media_url",
    "CHIME_BELOW_SPEECH_LU",
    "MAX_SILENCE_MS",
]

# The playlist chime calls attention without startling: a little under the speech around it.
CHIME_BELOW_SPEECH_LU = 3.0
MAX_SILENCE_MS = 10 * 60 * 1000


def media_config() -> MediaConfig:
    """``CUNXIANG_MEDIA_DIR`` and, for shared media, ``CUNXIANG_MEDIA_URL`` with the S3 settings
    (it pickles: a render process opens the same store with it)."""
    settings = get_settings()
    return MediaConfig(
        local_dir=str(settings.media_dir), url=settings.media_url,
        endpoint_url=settings.s3_endpoint_url, region=settings.s3_region,
        access_key_id=settings.s3_access_key_id,
        secret_access_key=settings.s3_secret_access_key,
        addressing_style=settings.s3_addressing_style,
    )


def media_store() -> MediaBackend:
    """The configured store: ``CUNXIANG_MEDIA_DIR``, or the bucket of ``CUNXIANG_MEDIA_URL``."""
    return open_store(media_config())


def media_url(sha256: str) -> str:
    """The open, relative URL of a stored file."""
    return f"/media/{sha256}"


def get_media(session: Session, sha256: str) -> MediaFile | None:
    """The row of a stored file, or None for an unknown (or malformed) hash."""
    sha256 = sha256.lower()
    if not is_sha256(sha256):
        return None
    return session.get(MediaFile, sha256)


def stored_path(session: Session, sha256: str) -> tuple[MediaFile, str] | None:
    """The row and a local path of a stored file that is really there, or None (with shared
    media, this node's copy, fetched from the object store on first use)."""
    media = get_media(session, sha256)
    if media is None:
        return None
    path = media_store().local_path(media.sha256)
    return (media, str(path)) if path is not None else None


def record_media(
    session: Session,
    *,
    sha256: str,
    kind: str,
    size_bytes: int,
    duration_ms: int,
    loudness_lufs: float | None = None,
    label: str | None = None,
    title: str | None = None,
) -> MediaFile:
    """The row of a file just stored; written once, found again when the same bytes return."""
    existing = session.get(MediaFile, sha256)
    if existing is not None:
        return existing
    media = MediaFile(
        sha256=sha256, kind=kind, label=label, size_bytes=size_bytes, duration_ms=duration_ms,
        loudness_lufs=loudness_lufs, title=title,
    )
    try:
        with session.begin_nested():  # another process may record the same file at once
            session.add(media)
    except IntegrityError:
        found = session.get(MediaFile, sha256) or _by_label(session, label)
        if found is None:
            raise
        return found
    return media


def _by_label(session: Session, label: str | None) -> MediaFile | None:
    if label is None:
        return None
    return session.scalar(select(MediaFile).where(MediaFile.label == label))


def _generated(
    session: Session, *, label: str, kind: str, title: str, make: Callable[[], Mastered]
) -> MediaFile:
    """The file made for ``label``; made (and stored) only if it is not there yet."""
    store = media_store()
    found = _by_label(session, label)
    if found is not None and store.exists(found.sha256):
        return found
    mastered = make()
    stored: StoredMedia = store.put_bytes(mastered.mp3)
    if found is not None:  # the row outlived its file (media dir restored from a backup)
        if found.sha256 == stored.sha256:
            return found
        found.label = None  # the new bytes differ: the label moves to them
        session.flush()
    return record_media(
        session, sha256=stored.sha256, kind=kind, size_bytes=stored.size,
        duration_ms=mastered.duration_ms, loudness_lufs=mastered.loudness_lufs,
        label=label, title=title,
    )


def silence_media(session: Session, ms: int) -> MediaFile:
    """An MP3 of ``ms`` milliseconds of silence (gaps and silence items of playlists)."""
    if not 1 <= ms <= MAX_SILENCE_MS:
        raise ValueError(f"silence of {ms} ms is out of range")
    return _generated(
        session, label=f"silence:{ms}", kind="silence", title=f"静音 {ms} ms",
        make=lambda: master_to_mp3(silence(ms)),
    )


def chime_media(session: Session, which: str) -> MediaFile:
    """The default attention chime as an MP3: ``opening`` (rising) or ``closing`` (falling)."""
    if which not in ("opening", "closing"):
        raise ValueError(f"unknown chime {which!r}")
    title = "提示音（开始）" if which == "opening" else "提示音（结束）"
    return _generated(
        session, label=f"chime:default:{which}", kind="chime", title=title,
        make=lambda: master_to_mp3(
            load_chime(which), target_lufs=TARGET_LUFS - CHIME_BELOW_SPEECH_LU
        ),
    )
