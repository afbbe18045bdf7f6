"""Times given in query parameters: a time without an offset is the service's local time."""

from __future__ import annotations

from datetime import datetime

from app.config import get_settings

__all__ = ["assume_local"]


def assume_local(moment: datetime | None) -> datetime | None:
    """``moment`` with the service's time zone when it has no offset; aware times as given."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=get_settings().tz)
