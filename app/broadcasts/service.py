"""Urgent broadcasts in the database: targets, orders, idempotency, cancel, expiry, status.

Issuing is one transaction: the broadcast row, its idempotency key, one urgent play order
per target village and the villages' program versions (which wakes the terminals'
long-polls once the transaction commits). Orders and versions are one statement each,
however many villages (a province's 15,000): the village codes travel as one bound list
(:mod:`app.rowsets`), so the time to the commit grows with the database's own work only.
Playout writes the orders (:mod:`app.playout.orders`); this module decides them.
A key or a CAP message seen twice hits a unique constraint; the flow
(``app.broadcasts.flows``) then answers with the first one.

A broadcast ends ``finished`` when every village's order has ended by a terminal's report
(played, failed or cut), ``cancelled`` by hand or by a CAP Cancel/Update, and ``expired``
when its ``expires_at`` comes first. Finishing and expiring emit ``broadcast.finished``:
either way every village has ended, one way or another.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic_core import to_json
from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.audit.service import record
from app.auth.permissions import SYSTEM, Principal
from app.auth.scope import below, within
from app.broadcasts.models import Broadcast, IdempotencyKey
from app.broadcasts.schemas import BroadcastRead, CapInfo
from app.broadcasts.states import REPORTED_END_STATES, VillageView, village_state
from app.config import get_settings
from app.db import utcnow
from app.errors import Forbidden, InvalidInput, NotFound
from app.ids import new_id
from app.metrics import broadcast_fanout, orders_issued
from app.pagination import matching
from app.playout.models import PlayOrder
from app.playout.orders import end_broadcast_orders, insert_village_orders
from app.playout.program import bump_program_versions
from app.playout.receipts_models import PlayReceipt
from app.runtime.events import emit, on_commit
from app.schedules.rules import quiet_hours_end
from app.speakers.health import ONLINE, heartbeat_timeout, status_clause
from app.speakers.models import Speaker

__all__ = [
    "NewBroadcast",
    "IdempotencyClaim",
    "DEFAULT_LIFETIME",
    "IDEMPOTENCY_RETENTION",
    "priority_of",
    "body_digest",
    "principal_key",
    "common_path",
    "resolve_targets",
    "village_codes",
    "start_time",
    "issue_broadcast",
    "find_by_key",
    "find_by_cap",
    "find_referenced",
    "get_broadcast",
    "get_broadcast_in_scope",
    "list_broadcasts",
    "cancel_broadcast",
    "describe",
    "describe_json",
    "finish_if_done",
    "expire_due",
    "purge_idempotency_keys",
    "on_receipts_recorded",
]

log = logging.getLogger(__name__)

DEFAULT_LIFETIME = timedelta(hours=1)
IDEMPOTENCY_RETENTION = timedelta(hours=48)  # SPEC: at least 24 h
_CANCELLABLE_ORDER_STATES = ("issued", "played", "failed", "preempted")


def priority_of(level: int) -> int:
    """Order priority of an urgent level: I → 4 … IV → 1 (routine orders are 0)."""
    return 5 - level


def body_digest(body: dict[str, Any]) -> str:
    """SHA-256 of a request body in canonical JSON (key order and spacing do not matter)."""
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def principal_key(principal: Principal) -> str:
    """Who an idempotency key belongs to: keys of different callers never collide."""
    return f"{principal.kind}:{principal.id}"


# ---------------------------------------------------------------- targets


def common_path(paths: Iterable[str]) -> str:
    """The deepest area path that holds every given path."""
    split = [p.split("/") for p in paths]
    common: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return "/".join(common)


def resolve_targets(
    *, session: Session, principal: Principal, codes: Sequence[str]
) -> tuple[list[str], str]:
    """Target area codes → (village codes, common area path); 422 unknown, 403 outside scope."""
    areas = {a.code: a for a in session.scalars(select(Area).where(Area.code.in_(list(codes))))}
    unknown = [c for c in codes if c not in areas]
    if unknown:
        raise InvalidInput(
            f"unknown area code(s): {', '.join(unknown[:20])}", code="unknown_area", areas=unknown
        )
    outside = [c for c in codes if not principal.covers(areas[c].path)]
    if outside:
        raise Forbidden(f"outside your area: {', '.join(outside[:20])}", areas=outside)
    villages = village_codes(session, areas.values())
    if not villages:
        raise InvalidInput("the targets hold no village", code="no_villages")
    return villages, common_path(a.path for a in areas.values())


def village_codes(session: Session, areas: Iterable[Area]) -> list[str]:
    """Codes of the villages in or under the areas, sorted (a column query: towns are big)."""
    found: set[str] = set()
    for area in areas:
        if area.level == "village":
            found.add(area.code)
        else:
            found.update(
                session.scalars(
                    select(Area.code).where(
                        Area.level == "village", below(Area.path, area.path)
                    )
                )
            )
    return sorted(found)


def start_time(level: int, now: datetime) -> datetime:
    """When a broadcast of ``level`` created ``now`` may sound: III–IV wait out quiet hours."""
    if level <= 2:
        return now
    settings = get_settings()
    return quiet_hours_end(now, settings.quiet, settings.tz) or now


# ---------------------------------------------------------------- issuing


@dataclass(frozen=True)
class IdempotencyClaim:
    """An idempotency key to record with a new broadcast."""

    principal: str
    key: str
    body_sha256: str


@dataclass
class NewBroadcast:
    """Everything a broadcast needs once its content is ready to play."""

    title: str
    level: int
    mode: str
    targets: list[str]
    villages: list[str]
    area_path: str
    content_kind: str
    media: list[dict[str, Any]]
    expires_at: datetime
    loop: int = 1
    text: str | None = None
    announcement_id: str | None = None
    cap: dict[str, Any] = field(default_factory=dict)  # cap_sender, cap_identifier, …
    warnings: list[str] = field(default_factory=list)  # noted about a CAP alert, not refused


def issue_broadcast(
    *,
    session: Session,
    principal: Principal,
    new: NewBroadcast,
    claim: IdempotencyClaim | None = None,
) -> Broadcast:
    """Insert the broadcast, its key and one urgent order per village; bump their versions.

    A key or CAP message already recorded raises ``IntegrityError`` at the first flush,
    before any order is written (the flow answers with the earlier broadcast). The fan-out
    metric times this, up to the commit.
    """
    started, now = time.perf_counter(), utcnow()
    start_at = start_time(new.level, now)
    cap = {k: v.astimezone(UTC) if isinstance(v, datetime) else v for k, v in new.cap.items()}
    broadcast = Broadcast(
        id=new_id("brd"),
        title=new.title,
        level=new.level,
        mode=new.mode,
        status="active",
        targets=new.targets,
        villages=new.villages,
        area_path=new.area_path,
        content_kind=new.content_kind,
        text=new.text,
        announcement_id=new.announcement_id,
        media=new.media,
        duration_ms=sum(int(m["duration_ms"]) for m in new.media),
        loop=new.loop,
        start_at=start_at,
        expires_at=new.expires_at.astimezone(UTC),
        created_at=now,
        created_by=principal.actor,
        warnings=list(new.warnings),
        **cap,
    )
    session.add(broadcast)
    if claim is not None:
        session.add(
            IdempotencyKey(
                principal=claim.principal,
                key=claim.key,
                body_sha256=claim.body_sha256,
                broadcast_id=broadcast.id,
                created_at=now,
            )
        )
    session.flush()
    doomed = start_at >= broadcast.expires_at  # III–IV in quiet hours that outlast the broadcast
    _insert_orders(session, broadcast, expired=doomed)
    if doomed:
        broadcast.status, broadcast.ended_at = "expired", now
    else:
        bump_program_versions(session, broadcast.villages)
    record(
        session=session,
        actor=principal.actor,
        action="create",
        entity="broadcast",
        entity_id=broadcast.id,
        area_path=broadcast.area_path,
        after=_audit_view(broadcast),
    )
    _observe_after_commit(session, len(broadcast.villages), started, issued=not doomed)
    return broadcast


def _insert_orders(session: Session, broadcast: Broadcast, *, expired: bool) -> None:
    """One urgent order per village, in one statement (playout writes them)."""
    insert_village_orders(session, broadcast.villages, {
        "kind": "urgent",
        "broadcast_id": broadcast.id,
        "start_at": broadcast.start_at,
        "not_after": broadcast.expires_at,
        "loop": broadcast.loop,
        "mode": broadcast.mode,
        "level": broadcast.level,
        "priority": priority_of(broadcast.level),
        "title": broadcast.title,
        "media": broadcast.media,
        "duration_ms": broadcast.duration_ms,
        "state": "expired" if expired else "issued",
        "issued_at": broadcast.created_at,
        "updated_at": broadcast.created_at,
    })


def _observe_after_commit(session: Session, villages: int, started: float, *, issued: bool) -> None:
    def observe() -> None:
        broadcast_fanout.observe(time.perf_counter() - started)
        if issued:
            orders_issued.labels(kind="urgent").inc(villages)

    on_commit(session, observe)


def _audit_view(broadcast: Broadcast) -> dict[str, Any]:
    return {
        "title": broadcast.title,
        "level": broadcast.level,
        "mode": broadcast.mode,
        "status": broadcast.status,
        "targets": broadcast.targets,
        "villages": len(broadcast.villages),
        "content": broadcast.content_kind,
        "text": broadcast.text,
        "announcement": broadcast.announcement_id,
        "media": [m["sha256"] for m in broadcast.media],
        "start_at": broadcast.start_at,
        "expires_at": broadcast.expires_at,
        "cap_identifier": broadcast.cap_identifier,
        "warnings": broadcast.warnings,
    }


# ---------------------------------------------------------------- lookups


def find_by_key(session: Session, principal: str, key: str) -> IdempotencyKey | None:
    """The record of an idempotency key this principal used, if any."""
    return session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.principal == principal, IdempotencyKey.key == key
        )
    )


def find_by_cap(session: Session, sender: str, identifier: str, sent: datetime) -> Broadcast | None:
    """The broadcast made from the CAP message (sender, identifier, sent), if any."""
    candidates = session.scalars(
        select(Broadcast).where(
            Broadcast.cap_sender == sender, Broadcast.cap_identifier == identifier
        )
    )
    return next((b for b in candidates if b.cap_sent == sent), None)


def find_referenced(
    session: Session, references: Iterable[tuple[str, str, datetime]]
) -> list[Broadcast]:
    """Broadcasts named by CAP references, and every broadcast that replaced them since."""
    found: dict[str, Broadcast] = {}
    for sender, identifier, sent in references:
        broadcast = find_by_cap(session, sender, identifier, sent)
        while broadcast is not None and broadcast.id not in found:
            found[broadcast.id] = broadcast
            broadcast = (
                session.get(Broadcast, broadcast.replaced_by) if broadcast.replaced_by else None
            )
    return list(found.values())


def get_broadcast(session: Session, broadcast_id: str) -> Broadcast:
    """The broadcast with this id; 404 when unknown."""
    broadcast = session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise NotFound(f"broadcast {broadcast_id!r} does not exist")
    return broadcast


def _visible(principal: Principal, broadcast: Broadcast) -> bool:
    return principal.covers(broadcast.area_path) or broadcast.created_by == principal.actor


def get_broadcast_in_scope(
    *, session: Session, principal: Principal, broadcast_id: str
) -> Broadcast:
    """The broadcast if the caller made it or its area covers the targets; 404 / 403."""
    broadcast = get_broadcast(session, broadcast_id)
    if not _visible(principal, broadcast):
        raise Forbidden(f"broadcast {broadcast_id!r} targets areas outside yours")
    return broadcast


def list_broadcasts(*, principal: Principal, active: bool | None = None,
                    q: str | None = None) -> Select[Any]:
    """Broadcasts the caller may see, newest first; ``active`` filters by status, ``q`` by
    words in the title."""
    stmt = select(Broadcast)
    if principal.area_path is not None:
        path = principal.area_path
        stmt = stmt.where(
            or_(
                within(Broadcast.area_path, path),
                Broadcast.created_by == principal.actor,
            )
        )
    if active is True:
        stmt = stmt.where(Broadcast.status == "active")
    elif active is False:
        stmt = stmt.where(Broadcast.status != "active")
    if (words := matching(q, Broadcast.title)) is not None:
        stmt = stmt.where(words)
    return stmt.order_by(Broadcast.created_at.desc(), Broadcast.id.desc())


# ---------------------------------------------------------------- ending


def cancel_broadcast(
    *,
    session: Session,
    principal: Principal,
    broadcast: Broadcast,
    replaced_by: str | None = None,
) -> Broadcast:
    """Stop an active broadcast everywhere: its orders leave every program (terminals stop).

    Cancelling a broadcast that already ended changes nothing and is not an error.
    """
    if broadcast.status != "active":
        return broadcast
    before = {"status": broadcast.status}
    end_broadcast_orders(session, broadcast.id, "cancelled", _CANCELLABLE_ORDER_STATES)
    broadcast.status, broadcast.ended_at = "cancelled", utcnow()
    broadcast.cancelled_by, broadcast.replaced_by = principal.actor, replaced_by
    bump_program_versions(session, broadcast.villages)
    record(
        session=session,
        actor=principal.actor,
        action="cancel",
        entity="broadcast",
        entity_id=broadcast.id,
        area_path=broadcast.area_path,
        before=before,
        after={"status": "cancelled", "replaced_by": replaced_by},
    )
    return broadcast


def _end(session: Session, broadcast_id: str, status: str, now: datetime) -> bool:
    """Move an active broadcast to ``status`` (one winner among racing processes)."""
    moved = session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == "active")
        .values(status=status, ended_at=now)  # loaded broadcasts are updated too ("auto")
    ).rowcount  # type: ignore[attr-defined]
    if not moved:
        return False
    record(
        session=session,
        actor=SYSTEM.actor,
        action=status,
        entity="broadcast",
        entity_id=broadcast_id,
        before={"status": "active"},
        after={"status": status},
    )
    emit(session, "broadcast.finished", broadcast_id=broadcast_id)
    return True


def finish_if_done(session: Session, broadcast_ids: Iterable[str]) -> list[str]:
    """Mark ``finished`` each active broadcast whose every order a terminal has ended."""
    ids = sorted(set(broadcast_ids))
    if not ids:
        return []
    open_ids = set(
        session.scalars(
            select(PlayOrder.broadcast_id).where(
                PlayOrder.broadcast_id.in_(ids), PlayOrder.state.not_in(REPORTED_END_STATES)
            )
        )
    )
    active = session.scalars(
        select(Broadcast.id).where(
            Broadcast.id.in_([i for i in ids if i not in open_ids]), Broadcast.status == "active"
        )
    )
    now = utcnow()
    return [i for i in list(active) if _end(session, i, "finished", now)]


def expire_due(session: Session, now: datetime | None = None) -> list[str]:
    """Expire every active broadcast whose ``expires_at`` has come, and its unplayed orders."""
    now = now or utcnow()
    due = list(
        session.scalars(
            select(Broadcast).where(Broadcast.status == "active", Broadcast.expires_at <= now)
        )
    )
    expired = []
    for broadcast in due:
        if broadcast.id in finish_if_done(session, [broadcast.id]):
            continue  # the last receipt arrived just before the expiry
        if _end(session, broadcast.id, "expired", now):
            end_broadcast_orders(session, broadcast.id, "expired", ("issued",))
            bump_program_versions(session, broadcast.villages)
            expired.append(broadcast.id)
    return expired


def purge_idempotency_keys(session: Session, now: datetime | None = None) -> int:
    """Forget idempotency keys older than the retention (48 h; SPEC asks for at least 24 h)."""
    cutoff = (now or utcnow()) - IDEMPOTENCY_RETENTION
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def on_receipts_recorded(session: Session, order_id: str, **_: Any) -> None:
    """A terminal reported on an order: if it was urgent, its broadcast may be finished."""
    broadcast_id = session.scalar(select(PlayOrder.broadcast_id).where(PlayOrder.id == order_id))
    if broadcast_id:
        session.flush()
        finish_if_done(session, [broadcast_id])


# ---------------------------------------------------------------- reading


# A village's order, as the states need it: (order id, order state, fetched by a terminal).
_OrderFacts = tuple[str, str, bool]


@dataclass(frozen=True)
class _Facts:
    """What the per-village states are made of, loaded in bulk (columns, not objects)."""

    orders: dict[str, dict[str, _OrderFacts]]  # broadcast → village → order
    events: dict[str, frozenset[str]]  # order → receipt events
    confirmed: dict[str, int]  # order → speakers that sent a receipt
    speakers: dict[str, tuple[int, int]]  # village → (registered, online)


def _speaker_counts(
    session: Session, orders: ColumnElement[bool]
) -> dict[str, tuple[int, int]]:
    """Registered and online speakers of each village that has one of the ``orders``: one
    grouped query, "online" by the speakers' own health rule in SQL."""
    online = func.sum(case((status_clause(ONLINE, utcnow(), heartbeat_timeout()), 1), else_=0))
    villages = select(PlayOrder.village_code).where(orders)
    rows = session.connection().execute(
        select(Speaker.village_code, func.count(), online)
        .where(Speaker.village_code.in_(villages), Speaker.retired_at.is_(None))
        .group_by(Speaker.village_code)
    ).all()
    return {village: (total, up or 0) for village, total, up in rows}


def _load_facts(session: Session, broadcasts: Sequence[Broadcast]) -> _Facts:
    """Orders, receipts and speakers of the broadcasts: three queries, however many villages
    (rows as plain tuples: a province-wide broadcast has 15,000)."""
    their_orders = PlayOrder.broadcast_id.in_([b.id for b in broadcasts])
    connection = session.connection()
    orders: dict[str, dict[str, _OrderFacts]] = defaultdict(dict)
    rows = connection.execute(
        select(
            PlayOrder.broadcast_id,
            PlayOrder.village_code,
            PlayOrder.id,
            PlayOrder.state,
            PlayOrder.first_fetched_at.is_not(None),
        ).where(their_orders)
    ).all()
    for broadcast_id, village, order_id, state, fetched in rows:
        orders[str(broadcast_id)][village] = (order_id, state, bool(fetched))
    events: dict[str, set[str]] = defaultdict(set)
    speakers: dict[str, set[str]] = defaultdict(set)
    for order_id, speaker_id, event in connection.execute(
        select(PlayReceipt.order_id, PlayReceipt.speaker_id, PlayReceipt.event)
        .join(PlayOrder, PlayOrder.id == PlayReceipt.order_id)
        .where(their_orders)
    ):
        events[order_id].add(event)
        speakers[order_id].add(speaker_id)
    return _Facts(orders, {k: frozenset(v) for k, v in events.items()},
                  {k: len(v) for k, v in speakers.items()}, _speaker_counts(session, their_orders))


_NO_EVENTS: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=1024)
def _state(order_state: str, events: frozenset[str], delivered: bool, online: int,
           mode: str) -> VillageView:
    """:func:`village_state`, once per combination: thousands of villages share a handful."""
    return village_state(order_state=order_state, events=events, delivered=delivered,
                         online=online, mode=mode)


def _village_reads(broadcast: Broadcast, facts: _Facts) -> list[dict[str, Any]]:
    """Each village's state as plain data (validated into ``VillageRead`` in one pass)."""
    orders = facts.orders.get(broadcast.id, {})
    events, confirmed, mode = facts.events, facts.confirmed, broadcast.mode
    reads = []
    for code in broadcast.villages:
        order = orders.get(code)
        if order is None:  # the village was deleted since; nothing to report
            continue
        order_id, state, delivered = order
        total, online = facts.speakers.get(code, (0, 0))
        view = _state(state, events.get(order_id, _NO_EVENTS), delivered, online, mode)
        reads.append({
            "code": code,
            "state": view.state,
            "speakers": {"total": total, "online": online,
                         "confirmed": confirmed.get(order_id, 0)},
            "order": order_id,
            "detail": view.detail,
        })
    return reads


def _cap_info(broadcast: Broadcast) -> CapInfo | None:
    if (
        broadcast.cap_identifier is None
        or broadcast.cap_sender is None
        or broadcast.cap_sent is None
    ):
        return None
    return CapInfo(
        sender=broadcast.cap_sender,
        identifier=broadcast.cap_identifier,
        sent=broadcast.cap_sent,
        msg_type=broadcast.cap_msg_type or "Alert",
    )


def _read_fields(b: Broadcast) -> dict[str, Any]:
    """A broadcast's fields as ``BroadcastRead`` names them, all but its villages."""
    return {
        "id": b.id,
        "title": b.title,
        "status": b.status,
        "mode": b.mode,
        "level": b.level,
        "priority": priority_of(b.level),
        "targets": b.targets,
        "content": b.content_kind,
        "text": b.text,
        "announcement": b.announcement_id,
        "media": b.media,
        "duration_ms": b.duration_ms,
        "loop": b.loop,
        "start_at": b.start_at,
        "created_at": b.created_at,
        "expires_at": b.expires_at,
        "ended_at": b.ended_at,
        "created_by": b.created_by,
        "cancelled_by": b.cancelled_by,
        "replaced_by": b.replaced_by,
        "cap": _cap_info(b),
        "warnings": list(b.warnings or []),
    }


def describe(session: Session, broadcasts: Sequence[Broadcast]) -> list[BroadcastRead]:
    """Client views of broadcasts with every village's state (a few queries for all of them)."""
    if not broadcasts:
        return []
    facts = _load_facts(session, broadcasts)
    return [
        BroadcastRead.model_validate({**_read_fields(b), "villages": _village_reads(b, facts)})
        for b in broadcasts
    ]


def describe_json(session: Session, broadcast: Broadcast) -> bytes:
    """:func:`describe` of one broadcast, encoded as JSON without a model object per village.

    The answer to an urgent POST: it is composed while the terminals that POST woke are being
    answered, and 15,000 ``VillageRead`` objects would cost them a tenth of a second of CPU.
    The villages are the same plain data ``describe`` validates, encoded as they are.
    """
    document = BroadcastRead.model_validate({**_read_fields(broadcast), "villages": []})
    encoded = document.model_dump(mode="json")
    encoded["villages"] = _village_reads(broadcast, _load_facts(session, [broadcast]))
    return to_json(encoded)
