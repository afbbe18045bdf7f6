"""Rendering failures as plain exceptions, each carrying the HTTP status and code it maps to.

This package never imports the web layer: the API maps these to its own ``AppError``
subclasses by reading ``code`` and ``status``.
"""

from __future__ import annotations

__all__ = [
    "RenderingError",
    "UnsupportedMedia",
    "UnreadableAudio",
    "AudioTooLong",
    "RecordingBusy",
    "RecordingTimeout",
    "EmptyScript",
    "SynthesisFailed",
    "UnknownEngine",
    "StorageFull",
]


class RenderingError(Exception):
    """Base of every rendering failure: ``code`` is a machine code, ``status`` an HTTP status."""

    code = "rendering_failed"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnsupportedMedia(RenderingError):
    """The upload is not audio in a format we accept (a text file, a video, an image)."""

    code = "unsupported_media"
    status = 415


class UnreadableAudio(RenderingError):
    """The upload looks like audio but cannot be decoded (truncated, corrupt, empty)."""

    code = "unreadable_audio"
    status = 422


class AudioTooLong(RenderingError):
    """The recording is longer than the configured limit (``CUNXIANG_MAX_RECORDING_MINUTES``)."""

    code = "audio_too_long"
    status = 422


class RecordingBusy(RenderingError):
    """Every recording worker slot stayed taken for too long: try again later."""

    code = "busy"
    status = 503


class RecordingTimeout(RenderingError):
    """The recording worker ran past its time limit and was stopped."""

    code = "recording_timeout"
    status = 503


class EmptyScript(RenderingError):
    """The script has nothing to say once normalised (only spaces or punctuation)."""

    code = "empty_script"
    status = 422


class SynthesisFailed(RenderingError):
    """The text-to-speech engine failed or produced no audio."""

    code = "synthesis_failed"
    status = 500


class UnknownEngine(RenderingError):
    """No text-to-speech engine is registered under the configured name."""

    code = "unknown_engine"
    status = 500


class StorageFull(RenderingError):
    """A file could not be written for want of space (ffmpeg's output, a cache entry)."""

    code = "storage_full"
    status = 507
