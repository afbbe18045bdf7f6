"""Times given in query parameters: a time without an offset is the service's local time."""

from __future__ import annotations

from datetime import datetime

from app.config import get_settings
from app.errors import InvalidInput
from app.inputs import refuse_unreal_time

__all__ = ["assume_local"]


def assume_local(moment: datetime | None) -> datetime | None:
    """``moment`` with the service's time zone when it has no offset; aware times as given.

    422 for a time outside 1900–9000 (``0001-01-01`` in a zone east of UTC is year 0).
    """
    if moment is None:
        return None
    try:
        refuse_unreal_time(moment)
    except ValueError as exc:
        raise InvalidInput(f"{moment.isoformat()}: {exc}", code="validation_error") from None
    if moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=get_settings().tz)
