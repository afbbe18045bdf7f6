"""In-process domain events and after-commit hooks: one part reacts to another without importing it.

A publisher calls ``emit(session, name, **data)`` inside its transaction; every subscriber of
``name`` runs at once, in the same transaction (so its writes commit or roll back together
with the change that caused it). Work that must wait for the commit (waking long-polls and
workers) is queued with :func:`on_commit` from inside the subscriber: it runs once the
transaction commits and is dropped on rollback.

Subscribers are wired explicitly, never by importing a module: :mod:`app.wiring` installs the
domain's reactions once at start-up (:func:`install`), and a running background service adds
its own wake-ups while it runs (:func:`subscribe`, :func:`unsubscribe`).

Event names in use:
- ``area.created``          area: Area
- ``areas.created``         villages: list[(code, path)]   (a CSV import's chunk: its new
                            areas were written in bulk; ``area.created`` is not emitted for them)
- ``area.moved``            area: Area, old_path: str   (its subtree moved with it)
- ``playlist.changed``      playlist_id: str
- ``announcement.approved`` announcement_id: str
- ``announcement.audio_ready`` announcement_id: str   (an approved revision's audio is stored)
- ``render.queued``         (a render job was queued)
- ``schedule.changed``      schedule_id: str
- ``day_type.changed``      day_type: str   (its name; created, or its dates changed)
- ``orders.changed``        village_codes: set[str]   (after program versions were bumped)
- ``speaker.health``        speaker_id: str, status: str   (once per transition)
- ``speaker.moved``         speaker_id: str, village_code: str, old_village_code: str
- ``speaker.retired``       speaker_id: str
- ``speaker.token_changed`` speaker_id: str   (token rotated or revoked, or moved village)
- ``receipts.recorded``     order_id: str, speaker_id: str, village_code: str, events: list[str]
- ``broadcast.finished``    broadcast_id: str
- ``webhook.queued``        (webhook deliveries were queued)
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = ["Handler", "emit", "install", "subscribe", "unsubscribe", "subscribers", "on_commit"]

log = logging.getLogger(__name__)

Handler = Callable[..., None]

# The domain's reactions, installed once at start-up by app.wiring.
_wired: dict[str, tuple[Handler, ...]] = {}
# Wake-ups of the background services running in this process (added and removed as they
# start and stop; several apps may run in one process, as in tests).
_live: dict[str, tuple[Handler, ...]] = {}
_live_lock = threading.Lock()


def install(subscriptions: Iterable[tuple[str, Handler]]) -> None:
    """Make ``subscriptions`` the domain's reactions (replacing any installed before).

    Raises ``ValueError`` if a handler is listed twice for one event.
    """
    table: dict[str, tuple[Handler, ...]] = {}
    for name, handler in subscriptions:
        if handler in table.get(name, ()):
            raise ValueError(f"{name!r} lists {handler!r} twice")
        table[name] = (*table.get(name, ()), handler)
    global _wired
    _wired = table


def subscribe(name: str, handler: Handler) -> None:
    """Also call ``handler(session, **data)`` whenever ``name`` is emitted (a running service)."""
    with _live_lock:
        if handler not in _live.get(name, ()):
            _live[name] = (*_live.get(name, ()), handler)


def unsubscribe(name: str, handler: Handler) -> None:
    """Stop calling a handler added with :func:`subscribe` (a service that stopped)."""
    with _live_lock:
        remaining = tuple(h for h in _live.get(name, ()) if h != handler)
        if remaining:
            _live[name] = remaining
        else:
            _live.pop(name, None)


def subscribers(name: str) -> tuple[Handler, ...]:
    """Everything that runs when ``name`` is emitted: the domain's reactions, then services'."""
    return _wired.get(name, ()) + _live.get(name, ())


def emit(session: Session, name: str, **data: Any) -> None:
    """Run every subscriber of ``name`` now, inside the caller's transaction."""
    for handler in subscribers(name):
        handler(session, **data)


def on_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once this session's transaction commits; drop it on rollback."""
    session.info.setdefault("after_commit", []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    actions = session.info.pop("after_commit", [])
    for action in actions:
        try:
            action()
        except Exception:  # a failed wake-up must not undo a committed change
            log.exception("after-commit action failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)
