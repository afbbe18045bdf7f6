"""In-process domain events: one part of the service reacts to another without importing it.

A publisher calls ``emit(session, name, **data)`` inside its transaction; subscribers registered
with ``subscribe(name)`` run at once, in the same transaction (so their writes commit or roll
back together with the change that caused them). Work that must wait for the commit (waking
long-polls, sending webhooks) uses ``app.db.on_commit`` from inside the subscriber.

Event names in use:
- ``area.created``          area: Area
- ``areas.created``         villages: list[(code, path)]   (a CSV import's chunk: its new
                            areas were written in bulk; ``area.created`` is not emitted for them)
- ``area.moved``            area: Area, old_path: str   (its subtree moved with it)
- ``playlist.changed``      playlist_id: str
- ``announcement.approved`` announcement_id: str
- ``announcement.audio_ready`` announcement_id: str   (an approved revision's audio is stored)
- ``schedule.changed``      schedule_id: str
- ``orders.changed``        village_codes: set[str]   (after program versions were bumped)
- ``speaker.health``        speaker_id: str, status: str   (once per transition)
- ``speaker.retired``       speaker_id: str
- ``speaker.token_changed`` speaker_id: str   (token rotated or revoked, or moved village)
- ``receipts.recorded``     order_id: str, speaker_id: str, village_code: str, events: list[str]
- ``broadcast.finished``    broadcast_id: str
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

__all__ = ["subscribe", "emit", "Handler"]

log = logging.getLogger(__name__)

Handler = Callable[..., None]
_subscribers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(name: str) -> Callable[[Handler], Handler]:
    """Decorator: call the function with ``(session, **data)`` whenever ``name`` is emitted."""

    def register(handler: Handler) -> Handler:
        if handler not in _subscribers[name]:
            _subscribers[name].append(handler)
        return handler

    return register


def emit(session: Session, name: str, **data: Any) -> None:
    """Run every subscriber of ``name`` now, inside the caller's transaction."""
    for handler in list(_subscribers.get(name, ())):
        handler(session, **data)
