"""Outages and tickets: reporting, opening, the crew's lifecycle actions and who may see what.

A ticket is opened by the sweep (:mod:`app.maintenance.sweep`) once a detected outage has
lasted ``CUNXIANG_TICKET_GRACE``, or at once for an outage a person reports. One ticket in
progress (not ``closed``) per speaker, never two: a partial unique index guards the insert,
and a new outage of a speaker that has one joins it. Every change a person makes is audited;
every change, by anyone, is on the ticket's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.audit.service import record
from app.auth.permissions import Principal
from app.auth.scope import within
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.ids import new_id
from app.maintenance.crews import crew_for_towns, crew_ids_of_user, towns_of_crews
from app.maintenance.models import (
    OPEN_STATUSES,
    REPORTED,
    Outage,
    Ticket,
    TicketEvent,
    ticket_in_progress,
)
from app.maintenance.schemas import (
    OutageCreate,
    OutageRead,
    TicketEventRead,
    TicketRead,
    TicketReopen,
    TicketResolve,
)
from app.maintenance.webhooks import queue_events, subscribed
from app.pagination import matching
from app.speakers.health import healthy_clause, heartbeat_timeout
from app.speakers.models import Speaker

__all__ = [
    "SYSTEM_ACTOR",
    "VERIFY_WINDOW",
    "DUE_AFTER",
    "outage_read",
    "ticket_read",
    "tickets_read",
    "report_outage",
    "list_outages",
    "get_ticket_in_scope",
    "list_tickets",
    "claim_ticket",
    "resolve_ticket",
    "reopen_ticket",
    "comment_ticket",
    "open_tickets",
    "close_ticket",
    "working_speakers",
    "working_clause",
    "insert_ignoring_duplicates",
    "chunked",
    "TicketRequest",
    "reopen_unproven",
]

SYSTEM_ACTOR = "system:cunxiang"
# A resolved ticket must be proven by a healthy heartbeat within this long, or it reopens.
VERIFY_WINDOW = timedelta(minutes=15)
DUE_AFTER = {"high": timedelta(hours=24), "normal": timedelta(hours=72)}


# ---------------------------------------------------------------- who can be heard (SQL)


def working_clause(now: datetime) -> ColumnElement[bool]:
    """A speaker that can be heard: registered, not in maintenance, healthy, no open outage."""
    open_outage = select(Outage.id).where(Outage.speaker_id == Speaker.id,
                                          Outage.closed_at.is_(None)).exists()
    return and_(Speaker.retired_at.is_(None), Speaker.maintenance.is_(False),
                healthy_clause(now, heartbeat_timeout()), ~open_outage)


def working_speakers(
    session: Session, village_codes: Iterable[str], *, now: datetime | None = None
) -> dict[str, int]:
    """Speakers per village that can be heard (villages with none are absent)."""
    counts: dict[str, int] = {}
    clause = working_clause(now or utcnow())
    for chunk in chunked(sorted(set(village_codes))):
        counts.update(session.execute(
            select(Speaker.village_code, func.count())
            .where(Speaker.village_code.in_(chunk), clause).group_by(Speaker.village_code)
        ).all())
    return counts


def chunked(items: Sequence[Any], size: int = 2000) -> Iterable[Sequence[Any]]:
    """``items`` in slices small enough for any database's bound-parameter limit."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


# ---------------------------------------------------------------- views


def outage_read(outage: Outage) -> OutageRead:
    """The client view of an outage."""
    return OutageRead(
        id=outage.id, speaker=outage.speaker_id, village=outage.village_code,
        source=outage.source,  # type: ignore[arg-type]
        cause=outage.cause, note=outage.note, reported_by=outage.reported_by,
        last_heard_at=outage.last_heard_at, opened_at=outage.opened_at,
        closed_at=outage.closed_at, ticket=outage.ticket_id,
    )


def tickets_read(session: Session, tickets: Sequence[Ticket],
                 now: datetime | None = None) -> list[TicketRead]:
    """Client views of tickets, with their timelines looked up at once."""
    ids = [t.id for t in tickets]
    events: dict[str, list[TicketEventRead]] = {i: [] for i in ids}
    for chunk in chunked(ids):
        for event in session.scalars(select(TicketEvent).where(TicketEvent.ticket_id.in_(chunk))
                                     .order_by(TicketEvent.at, TicketEvent.id)):
            events[event.ticket_id].append(TicketEventRead(
                kind=event.kind, at=event.at, actor=event.actor, detail=event.detail))
    now = now or utcnow()
    return [_read(t, events[t.id], now) for t in tickets]


def _read(ticket: Ticket, events: list[TicketEventRead], now: datetime) -> TicketRead:
    return TicketRead(
        id=ticket.id, speaker=ticket.speaker_id, village=ticket.village_code,
        town=ticket.town_code, crew=ticket.crew_id, status=ticket.status,  # type: ignore[arg-type]
        priority=ticket.priority, cause=ticket.cause,  # type: ignore[arg-type]
        opened_at=ticket.opened_at, due_at=ticket.due_at,
        overdue=ticket.status in OPEN_STATUSES and ticket.due_at <= now,
        claimed_by=ticket.claimed_by, claimed_at=ticket.claimed_at,
        resolved_at=ticket.resolved_at, resolution=ticket.resolution,
        closed_at=ticket.closed_at, events=events,
    )


def ticket_read(session: Session, ticket: Ticket) -> TicketRead:
    """The client view of one ticket with its timeline."""
    return tickets_read(session, [ticket])[0]


def _event(session: Session, ticket: Ticket, kind: str, actor: str, now: datetime,
           **detail: Any) -> None:
    session.add(TicketEvent(ticket_id=ticket.id, kind=kind, at=now, actor=actor,
                            detail=detail or None))


# ---------------------------------------------------------------- opening tickets


@dataclass(frozen=True)
class TicketRequest:
    """A speaker that needs a ticket, and why (the outages it covers)."""

    speaker_id: str
    village_code: str
    cause: str
    outage_ids: tuple[str, ...]


def _villages(session: Session, codes: Iterable[str]) -> dict[str, Area]:
    found: dict[str, Area] = {}
    for chunk in chunked(sorted(set(codes))):
        found.update((a.code, a) for a in session.scalars(select(Area).where(Area.code.in_(chunk))))
    return found


def _tickets_in_progress(session: Session, speaker_ids: Iterable[str]) -> dict[str, str]:
    """``{speaker: ticket}`` for the speakers that have a ticket not yet closed."""
    found: dict[str, str] = {}
    for chunk in chunked(sorted(set(speaker_ids))):
        found.update(session.execute(select(Ticket.speaker_id, Ticket.id).where(
            Ticket.speaker_id.in_(chunk), ticket_in_progress())).all())
    return found


def open_tickets(
    session: Session, requests: Sequence[TicketRequest], *, now: datetime,
    actor: str = SYSTEM_ACTOR,
) -> list[str]:
    """Open a ticket per request, or join the speaker's ticket in progress; the new tickets' ids.

    Priority, crew and due time are decided here; ``ticket.opened`` webhooks are queued in
    the same transaction. Thousands of requests (a district-wide power cut) cost a few
    statements, not a few per ticket.
    """
    if not requests:
        return []
    existing = _tickets_in_progress(session, [r.speaker_id for r in requests])
    fresh = list({r.speaker_id: r for r in requests if r.speaker_id not in existing}.values())
    rows = _ticket_rows(session, fresh, now)
    if rows:
        # The partial unique index decides when another process opened one meanwhile.
        session.execute(insert_ignoring_duplicates(session, Ticket),
                        [{k: v for k, v in row.items() if k != "outages"} for row in rows])
    tickets = _tickets_in_progress(session, [r.speaker_id for r in requests])
    created = {row["id"] for row in rows} & set(tickets.values())
    _record_opening(session, [row for row in rows if row["id"] in created], now, actor)
    _link_outages(session, requests, tickets)
    if created and subscribed(session, "ticket.opened"):
        opened = _load_tickets(session, created)
        queue_events(session, [("ticket.opened", t.model_dump(mode="json"))
                               for t in tickets_read(session, opened, now)], now=now)
    return sorted(created)


def _ticket_rows(session: Session, requests: Sequence[TicketRequest],
                 now: datetime) -> list[dict[str, Any]]:
    villages = _villages(session, [r.village_code for r in requests])
    crews = crew_for_towns(session, [v.parent_code for v in villages.values() if v.parent_code])
    working = working_speakers(session, villages, now=now)
    rows = []
    for request in requests:
        village = villages.get(request.village_code)
        town = village.parent_code if village else None
        priority = "normal" if working.get(request.village_code, 0) > 0 else "high"
        rows.append({
            "id": new_id("tkt"), "speaker_id": request.speaker_id,
            "village_code": request.village_code, "town_code": town,
            "area_path": village.path if village else request.village_code,
            "crew_id": crews.get(town or ""), "status": "open", "priority": priority,
            "cause": request.cause, "opened_at": now, "due_at": now + DUE_AFTER[priority],
            "updated_at": now, "outages": list(request.outage_ids),
        })
    return rows


def insert_ignoring_duplicates(session: Session, model: Any) -> Any:
    """A Core insert that skips rows a unique index refuses (executemany keeps a row count)."""
    table = model.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql_insert(table).on_conflict_do_nothing()
    return sqlite_insert(table).on_conflict_do_nothing()


def _record_opening(session: Session, rows: list[dict[str, Any]], now: datetime,
                    actor: str) -> None:
    events = []
    for row in rows:
        events.append({"ticket_id": row["id"], "kind": "opened", "at": now, "actor": actor,
                       "detail": {"cause": row["cause"], "priority": row["priority"],
                                  "outages": row["outages"]}})
        if row["crew_id"]:
            events.append({"ticket_id": row["id"], "kind": "assigned", "at": now,
                           "actor": actor, "detail": {"crew": row["crew_id"]}})
    if events:
        session.execute(insert(TicketEvent.__table__), events)  # type: ignore[arg-type]


def _link_outages(session: Session, requests: Sequence[TicketRequest],
                  tickets: dict[str, str]) -> None:
    links = [{"outage": outage_id, "ticket": tickets[r.speaker_id]}
             for r in requests for outage_id in r.outage_ids if r.speaker_id in tickets]
    if links:
        table = Outage.__table__
        session.execute(
            update(table)  # type: ignore[arg-type]
            .where(table.c.id == bindparam("outage"), table.c.ticket_id.is_(None))
            .values(ticket_id=bindparam("ticket")), links)
    session.expire_all()  # ORM copies of these outages must see the new links


def _load_tickets(session: Session, ids: Iterable[str]) -> list[Ticket]:
    found: list[Ticket] = []
    for chunk in chunked(sorted(ids)):
        found += session.scalars(select(Ticket).where(Ticket.id.in_(chunk))).all()
    return sorted(found, key=lambda t: t.id)


# ---------------------------------------------------------------- outages


def _speaker_in_reach(session: Session, principal: Principal,
                      speaker_id: str) -> tuple[Speaker, Area]:
    speaker = session.get(Speaker, speaker_id)
    if speaker is None or speaker.retired_at is not None:
        raise NotFound(f"speaker {speaker_id!r} does not exist")
    village = session.get(Area, speaker.village_code)
    assert village is not None
    if principal.role == "crew":  # a crew member reports in the towns the crew serves
        if village.parent_code in _crew_towns(session, principal):
            return speaker, village
        raise Forbidden(f"speaker {speaker_id!r} is in a town your crew does not serve")
    if principal.covers(village.path):
        return speaker, village
    raise Forbidden(f"speaker {speaker_id!r} is outside your area")


def _crew_towns(session: Session, principal: Principal) -> set[str]:
    return set(towns_of_crews(session, crew_ids_of_user(session, principal.name)))


def report_outage(*, session: Session, principal: Principal, data: OutageCreate) -> Outage:
    """A person reports a speaker out of order: an outage, and a ticket at once.

    A speaker in maintenance gets the outage on record but no ticket.
    """
    speaker, village = _speaker_in_reach(session, principal, data.speaker)
    now = utcnow()
    outage = Outage(speaker_id=speaker.id, village_code=speaker.village_code, source=REPORTED,
                    cause=data.cause, note=data.note, reported_by=principal.actor,
                    last_heard_at=speaker.last_heard_at, opened_at=now)
    session.add(outage)
    session.flush()
    if not speaker.maintenance:
        request = TicketRequest(speaker.id, speaker.village_code, data.cause, (outage.id,))
        opened = open_tickets(session, [request], now=now, actor=principal.actor)
        ticket = session.get(Ticket, outage.ticket_id) if outage.ticket_id else None
        if ticket is not None and ticket.id not in opened:  # joined the one in progress
            _event(session, ticket, "commented", principal.actor, now, outage=outage.id,
                   text=f"outage reported: {data.cause}" + (f": {data.note}" if data.note else ""))
    record(session=session, actor=principal.actor, action="report", entity="outage",
           entity_id=outage.id, area_path=village.path, after=outage_read(outage).model_dump())
    return outage


def list_outages(
    *, session: Session, principal: Principal, speaker: str | None = None,
    village: str | None = None, open_only: bool | None = None,
) -> Select[Outage]:
    """Outages the principal may see, newest first."""
    stmt = select(Outage)
    scope = _area_scope(session, principal, Outage.village_code)
    if scope is not None:
        stmt = stmt.where(scope)
    if speaker:
        stmt = stmt.where(Outage.speaker_id == speaker)
    if village:
        stmt = stmt.where(Outage.village_code == village)
    if open_only is not None:
        closed = Outage.closed_at.is_not(None)
        stmt = stmt.where(~closed if open_only else closed)
    return stmt.order_by(Outage.opened_at.desc(), Outage.id.desc())


def _area_scope(session: Session, principal: Principal,
                village_column: Any) -> ColumnElement[bool] | None:
    if principal.role == "crew":
        towns = _crew_towns(session, principal)
        villages = select(Area.code).where(Area.parent_code.in_(towns or {""}))
        return village_column.in_(villages)
    if principal.area_path is None:
        return None
    villages = select(Area.code).where(within(Area.path, principal.area_path))
    return village_column.in_(villages)


# ---------------------------------------------------------------- reading tickets


def _ticket_scope(session: Session, principal: Principal) -> ColumnElement[bool] | None:
    """Crew members see their crews' tickets; everyone else the tickets inside their area."""
    if principal.role == "crew":
        return Ticket.crew_id.in_(crew_ids_of_user(session, principal.name) or [""])
    if principal.area_path is None:
        return None
    return within(Ticket.area_path, principal.area_path)


def _visible(session: Session, principal: Principal, ticket: Ticket) -> bool:
    if principal.role == "crew":
        return ticket.crew_id is not None and \
            ticket.crew_id in crew_ids_of_user(session, principal.name)
    return principal.covers(ticket.area_path)


def get_ticket_in_scope(*, session: Session, principal: Principal, ticket_id: str) -> Ticket:
    """A ticket the principal may see; 404 when unknown, 403 when someone else's."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(f"ticket {ticket_id!r} does not exist")
    if not _visible(session, principal, ticket):
        raise Forbidden(f"ticket {ticket_id!r} belongs to another crew or area")
    return ticket


def list_tickets(
    *, session: Session, principal: Principal, status: str | None = None,
    town: str | None = None, crew: str | None = None, overdue: bool | None = None,
    village: str | None = None, speaker: str | None = None, now: datetime | None = None,
    q: str | None = None,
) -> Select[Ticket]:
    """Tickets the principal may see, filtered (``q``: words in the village's name or code, or
    the speaker's serial, name or location); newest first."""
    stmt = select(Ticket)
    scope = _ticket_scope(session, principal)
    if scope is not None:
        stmt = stmt.where(scope)
    for column, value in ((Ticket.status, status), (Ticket.town_code, town),
                          (Ticket.crew_id, crew), (Ticket.village_code, village),
                          (Ticket.speaker_id, speaker)):
        if value:
            stmt = stmt.where(column == value)
    if overdue is not None:
        late = and_(Ticket.status.in_(OPEN_STATUSES), Ticket.due_at <= (now or utcnow()))
        stmt = stmt.where(late if overdue else ~late)
    if (words := _ticket_words(q)) is not None:
        stmt = stmt.where(words)
    return stmt.order_by(Ticket.opened_at.desc(), Ticket.id.desc())


def _ticket_words(q: str | None) -> ColumnElement[bool] | None:
    villages = matching(q, Area.name, Area.code)
    speakers = matching(q, Speaker.serial, Speaker.name, Speaker.location)
    if villages is None or speakers is None:
        return None
    return or_(Ticket.village_code.in_(select(Area.code).where(villages)),
               Ticket.speaker_id.in_(select(Speaker.id).where(speakers)))


# ---------------------------------------------------------------- the crew's actions


def _workable(session: Session, principal: Principal, ticket_id: str) -> Ticket:
    """A ticket the principal may act on: its crew's members, or staff/admin over its area."""
    ticket = get_ticket_in_scope(session=session, principal=principal, ticket_id=ticket_id)
    if not principal.can("tickets:work"):
        raise Forbidden("this needs the 'tickets:work' permission")
    return ticket


def _audit(session: Session, principal: Principal, action: str, ticket: Ticket,
           before: dict[str, Any], **extra: Any) -> None:
    after = {k: v for k, v in ticket_read(session, ticket).model_dump().items() if k != "events"}
    record(session=session, actor=principal.actor, action=action, entity="ticket",
           entity_id=ticket.id, area_path=ticket.area_path, before=before,
           after={**after, **extra})


def _snapshot(session: Session, ticket: Ticket) -> dict[str, Any]:
    return {k: v for k, v in ticket_read(session, ticket).model_dump().items() if k != "events"}


def claim_ticket(*, session: Session, principal: Principal, ticket_id: str) -> Ticket:
    """Take an open ticket on (claiming one's own claim again changes nothing)."""
    ticket = _workable(session, principal, ticket_id)
    if ticket.status == "claimed" and ticket.claimed_by == principal.name:
        return ticket
    if ticket.status != "open":
        raise Conflict(f"ticket is {ticket.status}; only an open ticket can be claimed",
                       status_now=ticket.status, claimed_by=ticket.claimed_by)
    before, now = _snapshot(session, ticket), utcnow()
    ticket.status, ticket.claimed_by, ticket.claimed_at = "claimed", principal.name, now
    _event(session, ticket, "claimed", principal.actor, now)
    session.flush()
    _audit(session, principal, "claim", ticket, before)
    return ticket


def resolve_ticket(*, session: Session, principal: Principal, ticket_id: str,
                   data: TicketResolve) -> Ticket:
    """Say what was wrong and what was done; the ticket closes once the speaker sounds healthy."""
    ticket = _workable(session, principal, ticket_id)
    if ticket.status not in OPEN_STATUSES:
        raise Conflict(f"ticket is {ticket.status}; only an open or claimed ticket can be "
                       "resolved", status_now=ticket.status)
    before, now = _snapshot(session, ticket), utcnow()
    if ticket.claimed_by is None:
        ticket.claimed_by, ticket.claimed_at = principal.name, now
    ticket.status, ticket.cause, ticket.resolution = "resolved", data.cause, data.resolution
    ticket.resolved_at, ticket.resolved_by = now, principal.name
    _event(session, ticket, "resolved", principal.actor, now, cause=data.cause,
           resolution=data.resolution)
    session.flush()
    _audit(session, principal, "resolve", ticket, before)
    return ticket


def _reopen(session: Session, ticket: Ticket, actor: str, reason: str, now: datetime) -> None:
    ticket.status, ticket.claimed_by, ticket.claimed_at = "open", None, None
    ticket.resolved_at = ticket.resolved_by = ticket.closed_at = None
    _event(session, ticket, "reopened", actor, now, reason=reason)


def reopen_ticket(*, session: Session, principal: Principal, ticket_id: str,
                  data: TicketReopen) -> Ticket:
    """Send a resolved or closed ticket back to the crew, with the reason."""
    ticket = _workable(session, principal, ticket_id)
    if ticket.status in OPEN_STATUSES:
        raise Conflict(f"ticket is {ticket.status} already", status_now=ticket.status)
    if ticket.status == "closed":
        other = session.scalar(select(Ticket.id).where(
            Ticket.speaker_id == ticket.speaker_id, ticket_in_progress()))
        if other is not None:
            raise Conflict(f"the speaker has ticket {other!r} in progress; add to that one",
                           ticket=other)
    before, now = _snapshot(session, ticket), utcnow()
    _reopen(session, ticket, principal.actor, data.reason, now)
    session.flush()
    _audit(session, principal, "reopen", ticket, before)
    return ticket


def comment_ticket(*, session: Session, principal: Principal, ticket_id: str,
                   text: str) -> Ticket:
    """Add a note to the ticket's timeline (anyone who may see the ticket)."""
    ticket = get_ticket_in_scope(session=session, principal=principal, ticket_id=ticket_id)
    now = utcnow()
    _event(session, ticket, "commented", principal.actor, now, text=text)
    ticket.updated_at = now
    session.flush()
    record(session=session, actor=principal.actor, action="comment", entity="ticket",
           entity_id=ticket.id, area_path=ticket.area_path, after={"text": text})
    return ticket


# ---------------------------------------------------------------- closing (system)


def close_ticket(session: Session, ticket: Ticket, *, now: datetime, reason: str,
                 actor: str = SYSTEM_ACTOR) -> dict[str, Any]:
    """Close a ticket and the outages it covers; returns the ``ticket.closed`` webhook data."""
    ticket.status, ticket.closed_at = "closed", now
    _event(session, ticket, "closed", actor, now, reason=reason)
    for outage in session.scalars(select(Outage).where(Outage.ticket_id == ticket.id,
                                                       Outage.closed_at.is_(None))):
        outage.closed_at = now
    session.flush()
    return ticket_read(session, ticket).model_dump(mode="json")


def reopen_unproven(session: Session, ticket: Ticket, *, now: datetime) -> None:
    """A resolved ticket whose speaker still is not heard healthy goes back to the crew."""
    _reopen(session, ticket, SYSTEM_ACTOR,
            f"still down {int(VERIFY_WINDOW.total_seconds() // 60)} minutes after it was "
            "resolved", now)

