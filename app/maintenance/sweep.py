"""The maintenance sweep: from speakers' heartbeats to outages, tickets, proof and overdue marks.

A leader-only job runs :func:`sweep` every second. Each step is one short transaction of
its own (a failing step does not hold the others back) and is idempotent, so a new leader
may repeat what the old one did:

1. open a *detected* outage for every speaker that fell silent past
   ``CUNXIANG_HEARTBEAT_TIMEOUT`` (cause ``power_cut`` if it last said battery or off, else
   ``offline``) or that reports a fault (cause from its fault text); speakers in
   maintenance and speakers never heard open none, nor does silence outside a speaker's
   operating hours (:mod:`app.speakers.operating`: such a speaker is looked at again when
   its next window could make the silence an outage); silence counts only once the process
   has held the scheduler lease for one timeout (after a restart every terminal that was
   fine has had the time to be heard again);
2. close detected outages whose speaker is heard healthy again;
3. give a ticket to every outage open for ``CUNXIANG_TICKET_GRACE`` (flap suppression);
4. close resolved tickets whose speaker was heard healthy after the resolution, and reopen
   those still down ``VERIFY_WINDOW`` after it;
5. mark tickets past their due time as overdue, and raise to ``high`` the tickets of
   villages left with no working speaker;

``cunxiang_tickets_open`` is read from the database whenever ``/metrics`` is scraped.

Webhooks (``ticket.opened``, ``ticket.closed``, ``ticket.overdue``) are queued in the
transaction of the step that caused them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, false, func, or_, select, true, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app.config import get_settings
from app.db import session_scope, utcnow
from app.ids import new_id
from app.maintenance.causes import cause_of_fault, cause_of_silence
from app.maintenance.models import (
    DETECTED,
    OPEN_STATUSES,
    Outage,
    Ticket,
    TicketEvent,
    outage_open_detected,
    ticket_in_progress,
)
from app.maintenance.service import (
    DUE_AFTER,
    SYSTEM_ACTOR,
    VERIFY_WINDOW,
    TicketRequest,
    close_ticket,
    insert_ignoring_duplicates,
    open_tickets,
    reopen_unproven,
    ticket_read,
    working_clause,
)
from app.maintenance.webhooks import queue_events
from app.metrics import tickets_open
from app.playout.models import PlayOrder
from app.runtime.lease import lease_state
from app.runtime.scheduler import LEASE_NAME
from app.speakers.health import (
    FAULT,
    healthy_clause,
    heard_recently,
    heartbeat_timeout,
    silent_clause,
    sounds_healthy,
    status_clause,
)
from app.speakers.models import Speaker
from app.speakers.operating import (
    FOLLOW_SCHEDULE,
    daily_windows,
    order_windows,
    silence_verdict,
)
from app.speakers.service import expect_silence

__all__ = [
    "SweepReport",
    "sweep",
    "run_sweep",
    "listening_since",
    "open_detected_outages",
    "close_recovered_outages",
    "open_due_tickets",
    "verify_resolved_tickets",
    "mark_overdue_tickets",
    "escalate_silent_villages",
    "expected_back",
    "operating_windows",
    "count_tickets_in_progress",
    "on_speaker_retired",
    "SWEEP_EVERY_S",
]

log = logging.getLogger(__name__)

# Detection must come within 10 s of the timeout; a sweep costs a few indexed queries.
SWEEP_EVERY_S = 1.0
# How far ahead operating windows are read when a silence is judged.
_RECHECK_HORIZON = timedelta(days=2)
# How often a speaker that follows its schedule is looked at for new orders while silent.
_NEW_ORDERS_EVERY = timedelta(minutes=5)


@dataclass
class SweepReport:
    """What one sweep changed."""

    outages_opened: int = 0
    outages_closed: int = 0
    tickets_opened: int = 0
    tickets_closed: int = 0
    tickets_reopened: int = 0
    tickets_overdue: int = 0
    tickets_escalated: int = 0

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))


def sweep(*, now: datetime | None = None) -> SweepReport:
    """Run every step once (each in its own transaction) at ``now``."""
    now = now or utcnow()
    report = SweepReport()
    with session_scope() as session:
        report.outages_opened = open_detected_outages(session, now=now)
    with session_scope() as session:
        report.outages_closed = close_recovered_outages(session, now=now)
    with session_scope() as session:
        report.tickets_opened = open_due_tickets(session, now=now)
    with session_scope() as session:
        report.tickets_closed, report.tickets_reopened = verify_resolved_tickets(session, now=now)
    with session_scope() as session:
        report.tickets_overdue = mark_overdue_tickets(session, now=now)
    with session_scope() as session:
        report.tickets_escalated = escalate_silent_villages(session, now=now)
    return report


def run_sweep() -> None:
    """The periodic sweep on the lease holder."""
    report = sweep()
    if report:
        log.info("maintenance sweep: %s", report)


# ---------------------------------------------------------------- 1. detect


def _detected_cause(power: str | None, fault: str | None, silent: bool) -> str:
    return cause_of_silence(power) if silent else cause_of_fault(fault)


def listening_since(session: Session) -> datetime | None:
    """Since when the process running the sweep has held the scheduler lease (None: no lease).

    After a restart (or a takeover) terminals that were fine have not been heard *by this
    server* yet: their last heartbeats are as old as the outage of the server itself.
    """
    lease = lease_state(session=session, name=LEASE_NAME)
    return lease.acquired_at if lease is not None else None


def open_detected_outages(session: Session, *, now: datetime) -> int:
    """Open an outage for each speaker gone silent or reporting a fault that has none open.

    Silence counts only once the sweep's process has listened for a whole timeout: after a
    server start every terminal gets one ``CUNXIANG_HEARTBEAT_TIMEOUT`` of grace to be heard.
    """
    timeout = heartbeat_timeout()
    since = listening_since(session)
    grace = since is not None and since > now - timedelta(seconds=timeout)
    silent = and_(Speaker.last_heard_at.is_not(None), silent_clause(now, timeout),
                  false() if grace else true())
    faulty = status_clause(FAULT, now, timeout)
    has_open = exists().where(Outage.speaker_id == Speaker.id, outage_open_detected())
    excused = and_(Speaker.silence_expected_until.is_not(None),
                   Speaker.silence_expected_until > now)
    found = session.execute(
        select(Speaker.id, Speaker.village_code, Speaker.last_heard_at, Speaker.last_status,
               Speaker.last_power, Speaker.last_fault, Speaker.operating_hours)
        .where(Speaker.retired_at.is_(None), Speaker.maintenance.is_(False),
               or_(and_(silent, ~excused), faulty), ~has_open)
    ).all()
    if not found:
        return 0
    rows = []
    for sid, village, heard, _status, power, fault, hours in found:
        silent_now = heard is not None and not heard_recently(heard, now=now, timeout_s=timeout)
        if silent_now and heard is not None and hours is not None and not expected_back(
                session, speaker_id=sid, village=village, hours=hours, last_heard=heard,
                now=now):
            continue
        rows.append({
            "id": new_id("out"), "speaker_id": sid, "village_code": village,
            "source": DETECTED, "cause": _detected_cause(power, fault, silent_now),
            "note": None if silent_now else fault, "last_heard_at": heard, "opened_at": now,
        })
    if not rows:
        return 0  # every silent one is outside its operating hours
    # Another leader's sweep may have opened some meanwhile: the partial unique index wins.
    result = session.execute(insert_ignoring_duplicates(session, Outage), rows)
    count = result.rowcount  # type: ignore[attr-defined]
    return count if count is not None and count >= 0 else len(rows)


def expected_back(session: Session, *, speaker_id: str, village: str, hours: Any,
                  last_heard: datetime, now: datetime) -> bool:
    """Whether a silent speaker with operating hours should have been heard by now; if not,
    note when to look again (the sweep skips it until then)."""
    timeout = timedelta(seconds=get_settings().heartbeat_timeout)
    windows = operating_windows(session, village=village, hours=hours,
                                start=last_heard, end=now + _RECHECK_HORIZON)
    verdict = silence_verdict(last_heard, now, windows, timeout)
    if verdict.outage:
        return True
    again = verdict.recheck_at or now + _RECHECK_HORIZON / 2
    if hours == FOLLOW_SCHEDULE:
        again = min(again, now + _NEW_ORDERS_EVERY)  # an urgent broadcast adds a window
    expect_silence(session, speaker_id=speaker_id, until=again)
    return False


def operating_windows(session: Session, *, village: str, hours: Any, start: datetime,
                      end: datetime) -> list[tuple[datetime, datetime]]:
    """The windows a speaker should be on between ``start`` and ``end``."""
    if hours != FOLLOW_SCHEDULE:
        return daily_windows(hours, start, end, get_settings().tz)
    rows = session.execute(
        select(PlayOrder.start_at, PlayOrder.loop, PlayOrder.duration_ms)
        .where(PlayOrder.village_code == village, PlayOrder.start_at < end,
               PlayOrder.not_after > start,
               PlayOrder.state.not_in(("withdrawn", "cancelled")))
    )
    return order_windows((at, at + timedelta(milliseconds=loop * duration))
                         for at, loop, duration in rows)


# ---------------------------------------------------------------- 2. recover


def close_recovered_outages(session: Session, *, now: datetime) -> int:
    """Close the detected outages of speakers heard healthy again; note it on their tickets."""
    recovered = session.execute(
        select(Outage.id, Outage.ticket_id).join(Speaker, Speaker.id == Outage.speaker_id)
        .where(outage_open_detected(), healthy_clause(now, heartbeat_timeout()))
    ).all()
    if not recovered:
        return 0
    session.execute(
        update(Outage).where(Outage.id.in_([r[0] for r in recovered]), Outage.closed_at.is_(None))
        .values(closed_at=now).execution_options(synchronize_session=False)
    )
    waiting = session.scalars(select(Ticket.id).where(
        Ticket.id.in_({r[1] for r in recovered if r[1]}), Ticket.status.in_(OPEN_STATUSES)))
    session.add_all(TicketEvent(ticket_id=tid, kind="recovered", at=now, actor=SYSTEM_ACTOR,
                                detail={"detail": "the terminal is heard healthy again"})
                    for tid in waiting)
    return len(recovered)


# ---------------------------------------------------------------- 3. dispatch


def open_due_tickets(session: Session, *, now: datetime) -> int:
    """Give a ticket to each outage open past the grace period (or join the speaker's one)."""
    grace = timedelta(seconds=get_settings().ticket_grace)
    due = session.execute(
        select(Outage.id, Outage.speaker_id, Outage.village_code, Outage.cause)
        .join(Speaker, Speaker.id == Outage.speaker_id)
        .where(Outage.closed_at.is_(None), Outage.ticket_id.is_(None),
               Outage.opened_at <= now - grace, Speaker.retired_at.is_(None),
               Speaker.maintenance.is_(False))
        .order_by(Outage.opened_at, Outage.id)
    ).all()
    by_speaker: dict[str, list[Any]] = defaultdict(list)
    for row in due:
        by_speaker[row.speaker_id].append(row)
    requests = [TicketRequest(speaker_id=sid, village_code=rows[0].village_code,
                              cause=rows[0].cause, outage_ids=tuple(r.id for r in rows))
                for sid, rows in by_speaker.items()]
    return len(open_tickets(session, requests, now=now))


# ---------------------------------------------------------------- 4. proof


def verify_resolved_tickets(session: Session, *, now: datetime) -> tuple[int, int]:
    """Close resolved tickets proven by a healthy heartbeat; reopen the unproven ones."""
    timeout = heartbeat_timeout()
    found = session.execute(
        select(Ticket, Speaker.last_heard_at, Speaker.last_status, Speaker.retired_at)
        .join(Speaker, Speaker.id == Ticket.speaker_id).where(Ticket.status == "resolved")
    ).all()
    closed, reopened = 0, 0
    webhooks: list[tuple[str, Mapping[str, Any]]] = []
    for ticket, heard, status, retired in found:
        proven = (heard is not None and sounds_healthy(heard, status, now=now, timeout_s=timeout)
                  and ticket.resolved_at is not None and heard > ticket.resolved_at)
        if retired is not None or proven:
            reason = "speaker retired" if retired else "the terminal is heard healthy again"
            webhooks.append(("ticket.closed", close_ticket(session, ticket, now=now,
                                                           reason=reason)))
            closed += 1
        elif ticket.resolved_at is not None and now >= ticket.resolved_at + VERIFY_WINDOW:
            reopen_unproven(session, ticket, now=now)
            reopened += 1
    queue_events(session, webhooks, now=now)
    return closed, reopened


# ---------------------------------------------------------------- 5. deadlines


def mark_overdue_tickets(session: Session, *, now: datetime) -> int:
    """Mark (once) every open or claimed ticket past its due time."""
    late = session.scalars(select(Ticket).where(
        Ticket.status.in_(OPEN_STATUSES), Ticket.overdue_at.is_(None), Ticket.due_at <= now)
    ).all()
    for ticket in late:
        ticket.overdue_at = now
        session.add(TicketEvent(ticket_id=ticket.id, kind="overdue", at=now, actor=SYSTEM_ACTOR,
                                detail={"due_at": ticket.due_at.isoformat()}))
    session.flush()
    queue_events(session, [("ticket.overdue", ticket_read(session, t).model_dump(mode="json"))
                           for t in late], now=now)
    return len(late)


def escalate_silent_villages(session: Session, *, now: datetime) -> int:
    """Raise to ``high`` the normal tickets of villages where no speaker works any more."""
    heard = select(Speaker.id).where(Speaker.village_code == Ticket.village_code,
                                     working_clause(now)).exists()
    silent = session.scalars(select(Ticket).where(
        Ticket.status.in_(OPEN_STATUSES), Ticket.priority == "normal", ~heard)).all()
    for ticket in silent:
        ticket.priority = "high"
        ticket.due_at = min(ticket.due_at, ticket.opened_at + DUE_AFTER["high"])
        session.add(TicketEvent(ticket_id=ticket.id, kind="escalated", at=now,
                                actor=SYSTEM_ACTOR,
                                detail={"priority": "high",
                                        "detail": "the village has no working speaker"}))
    return len(silent)


def count_tickets_in_progress(session: Session) -> int:
    """Tickets not yet closed (the ``cunxiang_tickets_open`` gauge)."""
    in_progress = (*OPEN_STATUSES, "resolved")  # spelt out so the status index serves it
    return session.scalar(select(func.count()).select_from(Ticket)
                          .where(Ticket.status.in_(in_progress))) or 0


class _TicketsOpenGauge:
    """Reads the gauge's value from the database at each scrape, in any process (the leader's
    sweep is not the only one scraped); the last value stands in while the database is away."""

    last = 0.0

    def __call__(self) -> float:
        try:
            with session_scope() as session:
                self.last = float(count_tickets_in_progress(session))
        except SQLAlchemyError:
            log.warning("cunxiang_tickets_open: the database did not answer")
        return self.last


tickets_open.set_function(_TicketsOpenGauge())


# ---------------------------------------------------------------- retired speakers


def on_speaker_retired(session: Session, speaker_id: str, **_: Any) -> None:
    """A retired speaker needs no repair: its outages and ticket end with it."""
    now = utcnow()
    session.execute(update(Outage).where(Outage.speaker_id == speaker_id,
                                         Outage.closed_at.is_(None))
                    .values(closed_at=now).execution_options(synchronize_session=False))
    ticket = session.scalar(select(Ticket).where(Ticket.speaker_id == speaker_id,
                                                 ticket_in_progress()))
    if ticket is not None:
        data = close_ticket(session, ticket, now=now, reason="speaker retired")
        queue_events(session, [("ticket.closed", data)], now=now)
