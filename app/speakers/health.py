"""A speaker's health, derived when read (pure): maintenance, offline, fault or online."""

from __future__ import annotations

from datetime import datetime, timedelta

__all__ = ["derive_status", "STATUSES", "ONLINE", "OFFLINE", "FAULT", "MAINTENANCE"]

ONLINE, OFFLINE, FAULT, MAINTENANCE = "online", "offline", "fault", "maintenance"
STATUSES = (ONLINE, OFFLINE, FAULT, MAINTENANCE)


def derive_status(
    *,
    maintenance: bool,
    last_heard_at: datetime | None,
    last_status: str | None,
    now: datetime,
    timeout_s: float,
) -> str:
    """The status of SPEC §7: maintenance wins; then silence; then what the terminal reported.

    A terminal that reported a fault and then went silent is ``offline``: nobody
    knows its state any more.
    """
    if maintenance:
        return MAINTENANCE
    if last_heard_at is None or now - last_heard_at > timedelta(seconds=timeout_s):
        return OFFLINE
    return FAULT if last_status == "fault" else ONLINE
