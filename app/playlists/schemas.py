"""Request and response shapes for playlists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.media.service import MAX_SILENCE_MS

__all__ = [
    "AnnouncementItem",
    "MediaItem",
    "SilenceItem",
    "PlaylistItemIn",
    "PlaylistCreate",
    "PlaylistUpdate",
    "PlaylistRead",
    "PlaylistStatus",
    "MAX_ITEMS",
    "MAX_GAP_MS",
]

MAX_ITEMS = 200
MAX_GAP_MS = 60_000

PlaylistStatus = Literal["ready", "pending", "failed", "unapproved"]


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


class AnnouncementItem(BaseModel):
    """Play an announcement: its newest approved revision."""

    model_config = ConfigDict(extra="forbid")

    announcement: str = Field(min_length=1, max_length=40)


class MediaItem(BaseModel):
    """Play a stored file (any audio the service holds) by its SHA-256."""

    model_config = ConfigDict(extra="forbid")

    # Stored files are named by lower-case hex; a digest copied in upper case names the same.
    media: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)]


class SilenceItem(BaseModel):
    """A pause of ``silence_ms`` milliseconds."""

    model_config = ConfigDict(extra="forbid")

    silence_ms: int = Field(ge=1, le=MAX_SILENCE_MS)


PlaylistItemIn = AnnouncementItem | MediaItem | SilenceItem
Items = Annotated[list[PlaylistItemIn], Field(min_length=1, max_length=MAX_ITEMS)]
Name = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
Chime = Literal["default"] | None
Gap = Annotated[int, Field(ge=0, le=MAX_GAP_MS)]


class PlaylistCreate(BaseModel):
    """A new playlist for an area."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    area: str = Field(min_length=1, max_length=64)
    items: Items
    chime: Chime = Field(
        default=None, description='"default": the attention chime before and after; null: none'
    )
    gap_ms: Gap = Field(default=800, description="silence between consecutive items")


class PlaylistUpdate(BaseModel):
    """Changes to a playlist (the area cannot change)."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    items: Items | None = None
    chime: Chime = None
    gap_ms: Gap | None = None


class PlaylistRead(BaseModel):
    """A playlist with its total length and whether everything in it can play."""

    id: str
    name: str
    area: str
    items: list[dict[str, str | int]]
    chime: Chime
    gap_ms: int
    duration_ms: int = Field(description="chimes, items and gaps that can play now")
    status: PlaylistStatus = Field(
        description="ready: every item has approved, rendered audio; pending: a render is "
        "under way; failed: a render failed; unapproved: an announcement has no approved "
        "revision (it is left out)"
    )
    unapproved: list[str] = Field(description="announcements with no approved revision")
    created_at: datetime
    updated_at: datetime
