"""Request and response shapes for announcements, their revisions, review and audio."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

__all__ = [
    "AnnouncementCreate",
    "AnnouncementUpdate",
    "AnnouncementRead",
    "RevisionRead",
    "AudioRead",
    "RecordingRead",
    "RejectRequest",
    "RevisionStatus",
    "MAX_BODY_CHARS",
]

MAX_BODY_CHARS = 20_000

RevisionStatus = Literal["draft", "pending_review", "approved", "rejected"]


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


Title = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
Body = Annotated[str, Field(min_length=1, max_length=MAX_BODY_CHARS), AfterValidator(_not_blank)]
Category = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(_not_blank)]


class AnnouncementCreate(BaseModel):
    """A new announcement: its first revision's script and the area that owns it."""

    model_config = ConfigDict(extra="forbid")

    title: Title
    body: Body = Field(description="the script, Chinese text, up to 20,000 characters")
    area: str = Field(min_length=1, max_length=64)
    category: Category | None = None


class AnnouncementUpdate(BaseModel):
    """Changes that make a new revision (back to draft); the area cannot change."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    body: Body | None = None
    category: Category | None = None


class RejectRequest(BaseModel):
    """Why a reviewer sends a revision back."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(_not_blank)]


class AudioRead(BaseModel):
    """A revision's rendered audio: pending, ready (with the file) or failed (with why)."""

    status: Literal["pending", "ready", "failed"]
    sha256: str | None = None
    url: str | None = None
    duration_ms: int | None = None
    loudness_lufs: float | None = None
    error: str | None = None


class RecordingRead(BaseModel):
    """The recorded voice a revision plays instead of text-to-speech (transcoded to MP3)."""

    sha256: str
    url: str
    duration_ms: int


class RevisionRead(BaseModel):
    """One immutable revision with its review state and audio."""

    revision: int
    title: str
    body: str
    category: str | None
    status: RevisionStatus
    author: str
    created_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    reject_reason: str | None
    recording: RecordingRead | None
    audio: AudioRead | None


class AnnouncementRead(BaseModel):
    """An announcement as its current (newest) revision shows it."""

    id: str
    title: str
    body: str
    display_body: str = Field(
        description="the body as shown to listeners and readers: inline pronunciation hints "
        "such as 重[chong2]庆 removed"
    )
    area: str
    category: str | None
    status: RevisionStatus
    revision: int
    audio: AudioRead | None
    recording: RecordingRead | None
    approved_revision: int | None = Field(
        description="the newest approved revision: the one playlists play"
    )
    author: str
    reject_reason: str | None
    created_at: datetime
    updated_at: datetime
