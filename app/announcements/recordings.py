"""Recorded voices: an upload on disk → checked and mastered MP3 in the store → its media row.

The upload has already been streamed to a temporary file (``app.media.uploads``); this
reads its length from the header (over the limit: 422 at once), then decodes it with ffmpeg
and masters it like synthesised speech (−16 LUFS, mono MP3) in a bounded worker process,
never in the server (not audio: 415, unreadable or too long: 422, workers busy: 503).
Nothing is stored unless all of that succeeds.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.config import get_settings
from app.errors import AppError
from app.media.models import MediaFile
from app.media.service import media_config, media_store, record_media
from app.media.uploads import Upload
from app.rendering.errors import RenderingError
from app.rendering.isolation import transcode_isolated

__all__ = ["store_recording", "master_upload", "as_app_error"]


def as_app_error(exc: RenderingError) -> AppError:
    """The HTTP form of a rendering failure (its own status and code)."""
    return AppError(exc.message, code=exc.code, status=exc.status)


def master_upload(upload: Upload) -> tuple[str, int, int, float]:
    """Check and master the uploaded file into the store: (sha256, size, duration, loudness).

    The length comes from the header first (over ``CUNXIANG_MAX_RECORDING_MINUTES``: 422
    before anything is decoded); decoding and mastering run in a bounded worker process.
    """
    settings = get_settings()
    try:
        result = transcode_isolated(
            upload.path,
            media_store=media_store(),
            max_duration_ms=settings.max_recording_ms,
            slots=settings.render_workers,
            media_config=media_config(),
        )
    except RenderingError as exc:
        raise as_app_error(exc) from None
    return result.sha256, result.path.stat().st_size, result.duration_ms, result.loudness_lufs


def store_recording(*, session: Session, upload: Upload) -> MediaFile:
    """The media row of an uploaded recording, mastered into the store (raises 415/422)."""
    sha256, size, duration, loudness = master_upload(upload)
    return record_media(session, sha256=sha256, kind="recording", size_bytes=size,
                        duration_ms=duration, loudness_lufs=loudness, title=upload.filename)
