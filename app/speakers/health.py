"""A speaker's health: one rule in two forms, pure and SQL, tested against each other.

SPEC §7: maintenance wins; then silence (not heard within ``CUNXIANG_HEARTBEAT_TIMEOUT``:
offline); then what the terminal reported (``fault``, else online). A terminal that reported
a fault and then went silent is ``offline``: nobody knows its state any more.

The pure form (:func:`derive_status`, :func:`heard_recently`, :func:`sounds_healthy`) judges
one speaker in hand; the SQL form (:func:`status_clause`, :func:`silent_clause`,
:func:`healthy_clause`) says the same of ``speakers`` rows inside a query over many. "Sounds
healthy" — heard within the timeout, no fault reported — is the rule without the maintenance
flag: a repaired speaker in maintenance still proves its repair by sounding healthy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_

from app.config import get_settings
from app.speakers.models import Speaker

__all__ = [
    "derive_status",
    "heard_recently",
    "sounds_healthy",
    "status_clause",
    "silent_clause",
    "healthy_clause",
    "heartbeat_timeout",
    "STATUSES",
    "ONLINE",
    "OFFLINE",
    "FAULT",
    "MAINTENANCE",
]

ONLINE, OFFLINE, FAULT, MAINTENANCE = "online", "offline", "fault", "maintenance"
STATUSES = (ONLINE, OFFLINE, FAULT, MAINTENANCE)


def heartbeat_timeout() -> float:
    """Seconds of silence after which a terminal is offline (``CUNXIANG_HEARTBEAT_TIMEOUT``)."""
    return float(get_settings().heartbeat_timeout)


# ---------------------------------------------------------------- pure


def heard_recently(last_heard_at: datetime | None, *, now: datetime, timeout_s: float) -> bool:
    """Heard within the timeout (never heard: no)."""
    return last_heard_at is not None and now - last_heard_at <= timedelta(seconds=timeout_s)


def sounds_healthy(last_heard_at: datetime | None, last_status: str | None, *, now: datetime,
                   timeout_s: float) -> bool:
    """Heard within the timeout and not reporting a fault (maintenance left out)."""
    return heard_recently(last_heard_at, now=now, timeout_s=timeout_s) and last_status != "fault"


def derive_status(
    *,
    maintenance: bool,
    last_heard_at: datetime | None,
    last_status: str | None,
    now: datetime,
    timeout_s: float,
) -> str:
    """``maintenance``, ``offline``, ``fault`` or ``online``, at ``now``."""
    if maintenance:
        return MAINTENANCE
    if not heard_recently(last_heard_at, now=now, timeout_s=timeout_s):
        return OFFLINE
    return FAULT if last_status == "fault" else ONLINE


# ---------------------------------------------------------------- SQL


def _cutoff(now: datetime, timeout_s: float) -> datetime:
    return now - timedelta(seconds=timeout_s)


def silent_clause(now: datetime, timeout_s: float) -> ColumnElement[bool]:
    """SQL for ``not heard_recently(...)``: never heard, or not within the timeout."""
    cutoff = _cutoff(now, timeout_s)
    return or_(Speaker.last_heard_at.is_(None), Speaker.last_heard_at < cutoff)


def healthy_clause(now: datetime, timeout_s: float) -> ColumnElement[bool]:
    """SQL for :func:`sounds_healthy`."""
    return and_(Speaker.last_heard_at >= _cutoff(now, timeout_s),
                or_(Speaker.last_status.is_(None), Speaker.last_status != "fault"))


def status_clause(status: str, now: datetime, timeout_s: float) -> ColumnElement[bool]:
    """SQL for ``derive_status(...) == status``."""
    if status == MAINTENANCE:
        return Speaker.maintenance.is_(True)
    working = Speaker.maintenance.is_(False)
    if status == OFFLINE:
        return and_(working, silent_clause(now, timeout_s))
    if status == FAULT:
        return and_(working, Speaker.last_heard_at >= _cutoff(now, timeout_s),
                    Speaker.last_status == "fault")
    return and_(working, healthy_clause(now, timeout_s))
