"""Terminal-side playout services: program assembly, receipts, missed orders and speaker moves.

- :func:`assemble_program` is what ``GET /terminal/v1/program`` answers: the village's
  version and every order in force or due within the horizon (``first_fetched_at`` is
  recorded apart, in batches: :mod:`app.playout.deliveries`).
- :func:`record_receipts` stores play receipts idempotently and moves order states.
- :func:`mark_missed_orders` ends orders no terminal confirmed by their ``not_after``.
- :func:`move_terminal_program` keeps program versions meaningful when a speaker moves.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import urljoin

from sqlalchemy import Table, case, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from app.auth.permissions import Principal
from app.config import get_settings
from app.db import utcnow
from app.errors import Forbidden, InvalidInput
from app.playout.models import PlayOrder, VillageProgram
from app.playout.program import bump_program_versions, program_version
from app.playout.receipts_models import PlayReceipt
from app.runtime.events import emit

__all__ = [
    "Program",
    "ReceiptIn",
    "ReceiptResult",
    "PROGRAM_STATES",
    "HORIZON_GRACE",
    "iso",
    "program_orders",
    "order_document",
    "assemble_program",
    "assemble_programs",
    "record_receipts",
    "mark_missed_orders",
    "move_terminal_program",
    "on_speaker_moved",
]

# An order stays in the program until its not_after whatever the receipts say: a village
# may have several speakers, and one speaker's "finished" must not stop the others.
PROGRAM_STATES = ("issued", "played", "failed", "preempted")
# Orders are issued up to the horizon (plus a second); a little more is delivered so an
# order issued at the horizon's edge is never hidden from a terminal whose version matches.
HORIZON_GRACE = timedelta(hours=1)
# How final order states rank: a receipt only ever moves an order up (two speakers may
# report differently; the best news wins, and a late receipt beats "missed").
_STATE_RANK = {"issued": 0, "missed": 1, "failed": 2, "preempted": 3, "played": 4}
_EVENT_STATE = {"finished": "played", "failed": "failed", "preempted": "preempted"}
_CHUNK = 500


def iso(moment: datetime) -> str:
    """An aware time as ISO 8601 in UTC (``…Z``), like every other answer of the API."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Program:
    """A village's program: its version and its orders as terminals receive them."""

    village_code: str
    version: int
    orders: list[dict[str, Any]]
    undelivered: tuple[str, ...] = ()  # orders no terminal had fetched yet

    def document(self, server_time: datetime) -> dict[str, Any]:
        """The JSON answer of ``GET /terminal/v1/program``."""
        return {"version": self.version, "server_time": iso(server_time), "orders": self.orders}

    @cached_property
    def _orders_json(self) -> str:
        return json.dumps(self.orders, ensure_ascii=False, separators=(",", ":"))

    def encoded(self, server_time: datetime) -> bytes:
        """:meth:`document` as JSON bytes; the orders are encoded once however many ask."""
        return (f'{{"version":{self.version},"server_time":"{iso(server_time)}",'
                f'"orders":{self._orders_json}}}').encode()


def program_orders(*, session: Session, village_code: str, now: datetime) -> list[PlayOrder]:
    """Orders of a village not yet ended and starting within the horizon, by start."""
    return list(_program_query([village_code], now, session))


def _program_query(codes: list[str], now: datetime, session: Session) -> Iterable[PlayOrder]:
    horizon = now + timedelta(seconds=get_settings().horizon) + HORIZON_GRACE
    return session.scalars(
        select(PlayOrder).where(
            PlayOrder.village_code.in_(codes), PlayOrder.state.in_(PROGRAM_STATES),
            PlayOrder.not_after > now, PlayOrder.start_at <= horizon,
        ).order_by(PlayOrder.start_at, PlayOrder.priority.desc(), PlayOrder.issued_at,
                   PlayOrder.id)
    )


def _media_document(item: dict[str, Any], base_url: str) -> dict[str, Any]:
    sha = str(item.get("sha256", ""))
    url = urljoin(base_url, str(item.get("url") or f"/media/{sha}"))
    document = {"url": url, "sha256": sha, "duration_ms": int(item.get("duration_ms") or 0)}
    if item.get("title"):
        document["title"] = item["title"]
    return document


def order_document(order: PlayOrder, base_url: str) -> dict[str, Any]:
    """One order as terminals receive it (media URLs made absolute against ``base_url``)."""
    document: dict[str, Any] = {
        "id": order.id, "kind": order.kind, "mode": order.mode, "level": order.level,
        "priority": order.priority, "start_at": iso(order.start_at),
        "not_after": iso(order.not_after), "loop": order.loop, "volume": order.volume,
        "title": order.title, "issued_at": iso(order.issued_at),
        "duration_ms": order.duration_ms,
        "media": [_media_document(item, base_url) for item in order.media or ()],
    }
    if order.kind == "urgent":
        document["broadcast"] = order.broadcast_id
    else:
        document["schedule"] = order.schedule_id
    return document


def assemble_program(
    *, session: Session, village_code: str, base_url: str, now: datetime | None = None
) -> Program:
    """The program of a village (reads only; the caller records deliveries)."""
    return assemble_programs(session=session, village_codes=[village_code], base_url=base_url,
                             now=now)[village_code]


def assemble_programs(
    *, session: Session, village_codes: Iterable[str], base_url: str,
    now: datetime | None = None,
) -> dict[str, Program]:
    """The programs of many villages in two queries (a change wakes them all at once)."""
    now = now or utcnow()
    codes = sorted(set(village_codes))
    # Versions first: the orders read next are at least as new as the version says.
    versions = dict(session.execute(select(VillageProgram.village_code, VillageProgram.version)
                                    .where(VillageProgram.village_code.in_(codes))).all())
    orders: dict[str, list[PlayOrder]] = {code: [] for code in codes}
    for order in _program_query(codes, now, session):
        orders[order.village_code].append(order)
    return {code: Program(code, versions.get(code, 0),
                          [order_document(o, base_url) for o in orders[code]],
                          tuple(o.id for o in orders[code] if o.first_fetched_at is None))
            for code in codes}


# ---------------------------------------------------------------- receipts


@dataclass(frozen=True, slots=True)
class ReceiptIn:
    """One receipt as a terminal sends it."""

    order: str
    event: str
    at: datetime
    detail: str | None = None


@dataclass(frozen=True, slots=True)
class ReceiptResult:
    """How many receipts were new and how many had been received before."""

    accepted: int
    duplicates: int


def _check_orders(session: Session, terminal: Principal, ids: set[str]) -> dict[str, str]:
    villages = dict(session.execute(
        select(PlayOrder.id, PlayOrder.village_code).where(PlayOrder.id.in_(ids))).all())
    unknown = sorted(ids - set(villages))
    if unknown:
        raise InvalidInput(f"unknown order(s): {', '.join(unknown[:10])}", code="unknown_order",
                           orders=unknown)
    foreign = sorted(i for i, v in villages.items() if v != terminal.village_code)
    if foreign:
        raise Forbidden(f"order(s) of another village: {', '.join(foreign[:10])}",
                        orders=foreign)
    return villages


def _insert_ignoring_duplicates(session: Session, row: dict[str, Any]) -> bool:
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(PlayReceipt).values(**row).on_conflict_do_nothing(
        index_elements=["order_id", "speaker_id", "event"]).returning(PlayReceipt.id)
    return session.execute(statement).first() is not None


def record_receipts(
    *, session: Session, terminal: Principal, receipts: Sequence[ReceiptIn]
) -> ReceiptResult:
    """Store a terminal's receipts (idempotent by order, terminal and event); move order states.

    All or nothing: an unknown order is 422, another village's order 403.
    """
    villages = _check_orders(session, terminal, {r.order for r in receipts})
    now, accepted = utcnow(), 0
    outcomes: dict[str, set[str]] = defaultdict(set)
    for receipt in receipts:
        row = {"order_id": receipt.order, "speaker_id": terminal.id,
               "village_code": villages[receipt.order], "event": receipt.event,
               "at": min(receipt.at, now), "received_at": now, "detail": receipt.detail}
        if _insert_ignoring_duplicates(session, row):
            accepted += 1
            outcomes[receipt.order].add(receipt.event)
    for order_id, events in outcomes.items():
        _advance_state(session, order_id, events)
        emit(session, "receipts.recorded", order_id=order_id, speaker_id=terminal.id,
             village_code=villages[order_id], events=frozenset(events))
    return ReceiptResult(accepted=accepted, duplicates=len(receipts) - accepted)


def _advance_state(session: Session, order_id: str, events: Iterable[str]) -> None:
    states = [_EVENT_STATE[e] for e in events if e in _EVENT_STATE]
    if not states:
        return
    best = max(states, key=_STATE_RANK.__getitem__)
    lower = [s for s, rank in _STATE_RANK.items() if rank < _STATE_RANK[best]]
    session.execute(
        update(PlayOrder).where(PlayOrder.id == order_id, PlayOrder.state.in_(lower))
        .values(state=best, updated_at=utcnow()).execution_options(synchronize_session=False)
    )


# ---------------------------------------------------------------- missed orders


def mark_missed_orders(*, session: Session, now: datetime | None = None,
                       limit: int | None = None) -> dict[str, int]:
    """End every still-issued order whose ``not_after`` has passed (at most ``limit``).

    No receipt at all: ``missed`` (SPEC §6: never silently dropped). Started but
    never reported ended: ``failed`` (a finishing receipt arriving later still wins).
    Returns how many orders went to each state.
    """
    now = now or utcnow()
    due = list(session.scalars(select(PlayOrder.id).where(
        PlayOrder.state == "issued", PlayOrder.not_after <= now).limit(limit)))
    counts = {"missed": 0, "failed": 0}
    for start in range(0, len(due), _CHUNK):
        chunk = due[start:start + _CHUNK]
        heard = set(session.scalars(
            select(PlayReceipt.order_id).where(PlayReceipt.order_id.in_(chunk)).distinct()))
        for state, ids in (("missed", [i for i in chunk if i not in heard]),
                           ("failed", [i for i in chunk if i in heard])):
            if ids:
                result = session.execute(
                    update(PlayOrder).where(PlayOrder.id.in_(ids), PlayOrder.state == "issued")
                    .values(state=state, updated_at=now)
                    .execution_options(synchronize_session=False))
                counts[state] += int(result.rowcount or 0)  # type: ignore[attr-defined]
    return counts


# ---------------------------------------------------------------- moves


def move_terminal_program(*, session: Session, from_village: str, to_village: str) -> None:
    """A speaker moves: its new village's version must differ from any it knew, then wake both.

    The terminal compares versions only, so the new village must end strictly above the
    old one — even above the old village's newest, had the terminal fetched that one a
    moment late. Both are bumped first (rows locked in the usual order, so nobody else
    bumps them until this commits); then the new village is lifted above the old one if
    it is not already.
    """
    bump_program_versions(session, [from_village, to_village])
    above = program_version(session, from_village) + 1
    table = VillageProgram.__table__
    assert isinstance(table, Table)
    session.execute(
        table.update().where(table.c.village_code == to_village)
        .values(version=case((table.c.version < above, above), else_=table.c.version))
    )


def on_speaker_moved(session: Session, from_village: str, to_village: str, **_: object) -> None:
    """A speaker moved to another village: its terminal's program moves with it."""
    move_terminal_program(session=session, from_village=from_village, to_village=to_village)
