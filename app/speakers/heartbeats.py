"""Heartbeats land in memory and reach the database in batches (a heartbeat is not a transaction).

A terminal's heartbeat is added to a :class:`HeartbeatBuffer` on the event loop; the
:class:`HeartbeatService` flushes the buffer at least every second: it keeps each speaker's
latest heartbeat on its row, appends sampled history rows in one insert, and then
announces health transitions (``speaker.health`` events, one savepoint each) — also
for terminals that fell silent past ``CUNXIANG_HEARTBEAT_TIMEOUT``. Reads in the same
process flush first, so a heartbeat is visible to the next request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.db import session_scope, utcnow
from app.errors import DATABASE_UNAVAILABLE
from app.metrics import heartbeats_dropped, terminals_online
from app.runtime.events import emit
from app.runtime.services import PeriodicTask
from app.speakers.health import (
    FAULT,
    OFFLINE,
    ONLINE,
    derive_status,
    heartbeat_timeout,
    silent_clause,
    status_clause,
)
from app.speakers.models import Speaker, SpeakerHeartbeat

__all__ = [
    "Heartbeat",
    "HeartbeatBuffer",
    "flush_heartbeats",
    "announce_health",
    "count_online",
    "HeartbeatService",
    "FLUSH_INTERVAL_S",
    "HISTORY_SAMPLE_S",
]

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.5
SWEEP_INTERVAL_S = 2.0
# History keeps every change of status, power or fault, and otherwise one heartbeat per
# speaker every 10 minutes: thousands of terminals beating every 30 s would otherwise
# write millions of identical rows a day.
HISTORY_SAMPLE_S = 600


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """One heartbeat as received: ``at`` is when it was measured, ``received_at`` when heard."""

    speaker_id: str
    received_at: datetime
    at: datetime
    status: str
    power: str
    fault: str | None = None
    volume: int | None = None
    playing: str | None = None

    @property
    def condition(self) -> tuple[str, str, str | None]:
        """What history must not miss a change of."""
        return (self.status, self.power, self.fault)


@dataclass
class HeartbeatBuffer:
    """Heartbeats not yet written, per speaker; thread-safe (the loop adds, a thread flushes)."""

    _pending: dict[str, list[Heartbeat]] = field(default_factory=dict)
    _recorded: dict[str, tuple[tuple[str, str, str | None], datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _flushing: threading.Lock = field(default_factory=threading.Lock)

    def add(self, heartbeat: Heartbeat) -> None:
        """Keep a heartbeat until the next flush."""
        with self._lock:
            self._pending.setdefault(heartbeat.speaker_id, []).append(heartbeat)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def take(self) -> dict[str, list[Heartbeat]]:
        """Everything pending, leaving the buffer empty."""
        with self._lock:
            batch, self._pending = self._pending, {}
        return batch

    def flush(self) -> int:
        """Write what is pending (blocking; call from a thread). Returns speakers written.

        With the database away everything is kept for the next flush. A row the database
        refuses (it should have been refused at the door) must not poison the batch, which
        would then fail at every flush and blind outage detection: the batch is written
        again speaker by speaker, and what is still refused is dropped, logged and counted.
        """
        with self._flushing:  # two flushes at once could write an older batch last
            batch = self.take()
            if not batch:
                return 0
            try:
                self._write(batch)
            except DATABASE_UNAVAILABLE:
                self._put_back(batch)
                raise
            except Exception:
                log.warning("a batch of heartbeats from %d speakers was refused; "
                            "writing them one by one", len(batch), exc_info=True)
                self._write_one_by_one(batch)
            return len(batch)

    def _write(self, batch: Mapping[str, list[Heartbeat]]) -> None:
        """One transaction; on failure history sampling is as if it never ran."""
        recorded = {speaker_id: self._recorded.get(speaker_id) for speaker_id in batch}
        try:
            with session_scope() as session:
                flush_heartbeats(session=session, batch=batch, history=self)
        except BaseException:
            for speaker_id, previous in recorded.items():
                if previous is None:
                    self._recorded.pop(speaker_id, None)
                else:
                    self._recorded[speaker_id] = previous
            raise

    def _write_one_by_one(self, batch: Mapping[str, list[Heartbeat]]) -> None:
        speakers = list(batch)
        for done, speaker_id in enumerate(speakers):
            try:
                self._write_speaker(speaker_id, batch[speaker_id])
            except DATABASE_UNAVAILABLE:  # gone meanwhile: keep this speaker and the rest
                self._put_back({s: batch[s] for s in speakers[done:]})
                raise

    def _write_speaker(self, speaker_id: str, beats: list[Heartbeat]) -> None:
        try:
            self._write({speaker_id: beats})
        except DATABASE_UNAVAILABLE:
            raise
        except Exception:  # then beat by beat: drop only what is refused
            for beat in beats:
                self._write_or_drop(beat)

    def _write_or_drop(self, beat: Heartbeat) -> None:
        try:
            self._write({beat.speaker_id: [beat]})
        except DATABASE_UNAVAILABLE:
            raise
        except Exception as exc:
            heartbeats_dropped.inc()
            log.error("dropped a heartbeat of speaker %s that the database refuses "
                      "(status=%r power=%r fault=%r playing=%r): %s", beat.speaker_id,
                      beat.status, beat.power, beat.fault, beat.playing,
                      getattr(exc, "orig", None) or exc)

    def _put_back(self, batch: Mapping[str, list[Heartbeat]]) -> None:
        with self._lock:
            for speaker_id, beats in batch.items():
                self._pending[speaker_id] = beats + self._pending.get(speaker_id, [])

    def wants_history(self, heartbeat: Heartbeat) -> bool:
        """True when this heartbeat changes the speaker's condition or is due as a sample."""
        previous = self._recorded.get(heartbeat.speaker_id)
        if (previous is not None and previous[0] == heartbeat.condition
                and heartbeat.at - previous[1] < timedelta(seconds=HISTORY_SAMPLE_S)):
            return False
        self._recorded[heartbeat.speaker_id] = (heartbeat.condition, heartbeat.at)
        return True


def _playing(value: str | None) -> str | None:
    return value[:64] if value else None


def _apply_latest(speaker: Speaker, beats: Sequence[Heartbeat]) -> None:
    """Put the newest heartbeat's fields on the row (a late, queued one never wins)."""
    heard = max(b.received_at for b in beats)
    if speaker.last_heard_at is None or heard > speaker.last_heard_at:
        speaker.last_heard_at = heard
    latest = max(beats, key=lambda b: b.at)
    if speaker.last_reported_at is not None and latest.at < speaker.last_reported_at:
        return
    speaker.last_reported_at = latest.at
    speaker.last_status, speaker.last_power, speaker.last_fault = latest.condition
    speaker.last_volume, speaker.last_playing = latest.volume, _playing(latest.playing)


def flush_heartbeats(
    *, session: Session, batch: Mapping[str, Sequence[Heartbeat]], history: HeartbeatBuffer
) -> list[tuple[str, str]]:
    """Write a batch: latest fields per speaker, history rows, then health transitions."""
    speakers = session.scalars(
        select(Speaker).where(Speaker.id.in_(list(batch)), Speaker.retired_at.is_(None))
    ).all()
    rows = []
    for speaker in speakers:
        beats = sorted(batch[speaker.id], key=lambda b: b.at)
        _apply_latest(speaker, beats)
        rows += [_history_row(b) for b in beats if history.wants_history(b)]
    if rows:
        session.execute(insert(SpeakerHeartbeat), rows)
    session.flush()
    return announce_health(session=session, speaker_ids=[s.id for s in speakers])


def _history_row(beat: Heartbeat) -> dict[str, object]:
    return {
        "speaker_id": beat.speaker_id, "at": beat.at, "received_at": beat.received_at,
        "status": beat.status, "power": beat.power, "fault": beat.fault, "volume": beat.volume,
        "playing": _playing(beat.playing),
    }


def announce_health(
    *, session: Session, speaker_ids: Sequence[str] = (), now: datetime | None = None
) -> list[tuple[str, str]]:
    """Emit ``speaker.health`` for every speaker whose derived status changed; returns them.

    Looks at ``speaker_ids`` and at every speaker that went silent past the timeout.
    Each transition is a guarded update in its own savepoint, so a failing subscriber
    (or another process announcing the same change) costs only that one.
    """
    now, timeout = now or utcnow(), heartbeat_timeout()
    silent = and_(Speaker.health.in_((ONLINE, FAULT)), silent_clause(now, timeout))
    candidates = or_(Speaker.id.in_(list(speaker_ids)), silent) if speaker_ids else silent
    found = session.execute(
        select(Speaker.id, Speaker.health, Speaker.maintenance, Speaker.last_heard_at,
               Speaker.last_status).where(Speaker.retired_at.is_(None), candidates)
    ).all()
    changed = []
    for speaker_id, health, maintenance, heard, reported in found:
        status = derive_status(maintenance=maintenance, last_heard_at=heard, last_status=reported,
                               now=now, timeout_s=timeout)
        if status != health and _announce(session, speaker_id, health, status):
            changed.append((speaker_id, status))
    _keep_last_heartbeats(session, [sid for sid, status in changed if status == OFFLINE])
    return changed


def _keep_last_heartbeats(session: Session, speaker_ids: Sequence[str]) -> None:
    """Put silent speakers' last heartbeats in the history (sampling may have skipped them),
    so the history shows when a silence began, not up to 10 minutes before (a few bulk
    queries, however many fell silent)."""
    for start in range(0, len(speaker_ids), 500):
        chunk = list(speaker_ids[start:start + 500])
        kept = dict(session.execute(
            select(SpeakerHeartbeat.speaker_id, func.max(SpeakerHeartbeat.at))
            .where(SpeakerHeartbeat.speaker_id.in_(chunk))
            .group_by(SpeakerHeartbeat.speaker_id)).all())
        rows = [
            {"speaker_id": row.id, "at": row.last_reported_at,
             "received_at": row.last_heard_at or row.last_reported_at,
             "status": row.last_status or "ok", "power": row.last_power or "mains",
             "fault": row.last_fault, "volume": row.last_volume, "playing": row.last_playing}
            for row in session.execute(
                select(Speaker.id, Speaker.last_reported_at, Speaker.last_heard_at,
                       Speaker.last_status, Speaker.last_power, Speaker.last_fault,
                       Speaker.last_volume, Speaker.last_playing)
                .where(Speaker.id.in_(chunk), Speaker.last_reported_at.is_not(None),
                       Speaker.maintenance.is_(False)))
            if kept.get(row.id) is None or kept[row.id] < row.last_reported_at
        ]
        if rows:
            session.execute(insert(SpeakerHeartbeat), rows)


def _announce(session: Session, speaker_id: str, old: str, new: str) -> bool:
    try:
        with session.begin_nested():
            result = session.execute(
                update(Speaker).where(Speaker.id == speaker_id, Speaker.health == old)
                .values(health=new).execution_options(synchronize_session=False)
            )
            if not result.rowcount:  # type: ignore[attr-defined]
                return False  # another process announced it first
            emit(session, "speaker.health", speaker_id=speaker_id, status=new)
        return True
    except Exception:  # a subscriber's failure must not lose the heartbeats themselves
        log.exception("announcing %s → %s for %s failed; retried next sweep", old, new, speaker_id)
        return False


def count_online(*, session: Session, now: datetime | None = None) -> int:
    """Speakers online: heard within the timeout, healthy and not in maintenance."""
    return session.scalar(
        select(func.count()).select_from(Speaker).where(
            Speaker.retired_at.is_(None),
            status_clause(ONLINE, now or utcnow(), heartbeat_timeout()))
    ) or 0


def _sweep() -> None:
    with session_scope() as session:
        announce_health(session=session)
        terminals_online.set(count_online(session=session))


class HeartbeatService(PeriodicTask):
    """The service writing a :class:`HeartbeatBuffer` every ``FLUSH_INTERVAL_S`` (and what is
    left when it stops), announcing health transitions every ``SWEEP_INTERVAL_S``."""

    def __init__(self) -> None:
        self.buffer = HeartbeatBuffer()
        self._next_sweep = 0.0
        super().__init__("heartbeat flush", self._tick, every_s=FLUSH_INTERVAL_S,
                         final=self.buffer.flush)

    def _tick(self) -> None:
        self.buffer.flush()
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_INTERVAL_S
            _sweep()
