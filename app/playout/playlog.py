"""The as-run log: what each terminal reported playing, and the orders nobody played (missed).

One entry per (order, speaker) that sent receipts — when it started, when it ended
and how (``played``, ``preempted``, ``failed``, or only ``started`` so far) — plus one
entry per ``missed`` order, without a speaker. Ordered by the scheduled start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.auth.scope import within
from app.csvout import csv_text
from app.db import UTCDateTime
from app.playout.models import PlayOrder
from app.playout.receipts_models import PlayReceipt
from app.playout.service import iso
from app.playout.terminal_schemas import PlaylogEntry
from app.speakers.models import Speaker

__all__ = ["playlog_query", "playlog_page", "playlog_csv", "CSV_COLUMNS"]

_RESULTS = {4: "played", 3: "preempted", 2: "failed", 1: "missed", 0: "started"}
_ENDS = ("finished", "preempted", "failed")
CSV_COLUMNS = list(PlaylogEntry.model_fields)


def _received() -> Any:
    """Receipts folded into one row per (order, speaker)."""
    rank = case((PlayReceipt.event == "finished", 4), (PlayReceipt.event == "preempted", 3),
                (PlayReceipt.event == "failed", 2), else_=0)
    return select(
        PlayReceipt.order_id.label("order_id"),
        PlayReceipt.speaker_id.label("speaker_id"),
        type_coerce(func.min(case((PlayReceipt.event == "started", PlayReceipt.at))),
                    UTCDateTime()).label("started_at"),
        type_coerce(func.max(case((PlayReceipt.event.in_(_ENDS), PlayReceipt.at))),
                    UTCDateTime()).label("ended_at"),
        func.max(rank).label("rank"),
        func.max(PlayReceipt.detail).label("detail"),
    ).group_by(PlayReceipt.order_id, PlayReceipt.speaker_id).subquery()


def _order_columns() -> list[Any]:
    return [PlayOrder.id.label("order"), PlayOrder.village_code.label("village")]


def _order_details() -> list[Any]:
    return [PlayOrder.kind.label("kind"), PlayOrder.mode.label("mode"),
            PlayOrder.title.label("title"), PlayOrder.schedule_id.label("schedule"),
            PlayOrder.broadcast_id.label("broadcast"), PlayOrder.start_at.label("scheduled_at"),
            PlayOrder.not_after.label("not_after")]


def _window(stmt: Select[Any], paths: Sequence[str], start: datetime | None,
            end: datetime | None) -> Select[Any]:
    stmt = stmt.join(Area, Area.code == PlayOrder.village_code)
    if paths:
        stmt = stmt.where(*(within(Area.path, p) for p in paths))
    if start is not None:
        stmt = stmt.where(PlayOrder.start_at >= start)
    if end is not None:
        stmt = stmt.where(PlayOrder.start_at < end)
    return stmt


def playlog_query(
    *, paths: Sequence[str] = (), start: datetime | None = None, end: datetime | None = None,
    speaker: str | None = None,
) -> Select[Any]:
    """Entries of orders scheduled in [start, end) in every area of ``paths`` (all: none given)."""
    received = _received()
    played = _window(
        select(*_order_columns(), received.c.speaker_id.label("speaker"),
               Speaker.serial.label("serial"), *_order_details(), received.c.started_at,
               received.c.ended_at, received.c.rank, received.c.detail)
        .select_from(received)
        .join(PlayOrder, PlayOrder.id == received.c.order_id)
        .join(Speaker, Speaker.id == received.c.speaker_id),
        paths, start, end)
    if speaker:
        played = played.where(received.c.speaker_id == speaker)
    missed = _window(
        select(*_order_columns(), cast(null(), String).label("speaker"),
               cast(null(), String).label("serial"), *_order_details(),
               cast(null(), UTCDateTime()).label("started_at"),
               cast(null(), UTCDateTime()).label("ended_at"),
               cast(literal(1), Integer).label("rank"), cast(null(), String).label("detail"))
        .where(PlayOrder.state == "missed"),
        paths, start, end)
    parts = [played] if speaker else [played, missed]
    log = union_all(*parts).subquery("playlog")
    return select(log).order_by(log.c.scheduled_at, log.c.village, log.c.serial, log.c.order)


def _entry(row: Any) -> PlaylogEntry:
    return PlaylogEntry(
        order=row.order, village=row.village, speaker=row.speaker, serial=row.serial,
        kind=row.kind, mode=row.mode, title=row.title, schedule=row.schedule,
        broadcast=row.broadcast, scheduled_at=row.scheduled_at, not_after=row.not_after,
        started_at=row.started_at, ended_at=row.ended_at,
        result=_RESULTS.get(int(row.rank or 0), "started"),  # type: ignore[arg-type]
        detail=row.detail,
    )


def playlog_page(*, session: Session, stmt: Select[Any], limit: int | None,
                 offset: int = 0) -> tuple[list[PlaylogEntry], int]:
    """One page of entries and the total (``limit`` None: every entry)."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    page = stmt.offset(offset) if limit is None else stmt.limit(limit).offset(offset)
    return [_entry(row) for row in session.execute(page)], total


def playlog_csv(entries: Iterable[PlaylogEntry]) -> str:
    """Entries as CSV with a header row (times in ISO 8601 UTC; no cell read as a formula)."""
    rows = []
    for entry in entries:
        values = entry.model_dump()
        rows.append(["" if values[c] is None else iso(values[c])
                     if isinstance(values[c], datetime) else values[c] for c in CSV_COLUMNS])
    return csv_text(CSV_COLUMNS, rows)
