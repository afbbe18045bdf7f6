"""A village's calendar: its play orders (routine and urgent) plus the occurrences beyond them.

Issued orders are the truth up to the horizon; beyond it (or where an order is not issued
yet) the schedules' computed occurrences stand in as ``planned`` entries. The playout rule of
:mod:`app.playout.priority` is then run over all of them, so the calendar shows what actually
sounds: an urgent order appears cutting the routine one as soon as it exists.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.config import get_settings
from app.errors import InvalidInput
from app.playlists.service import playout_media
from app.playout.models import PlayOrder
from app.playout.priority import OrderView, Segment, outcomes, simulate
from app.schedules.issuing import order_not_after, rule_of, schedules_covering
from app.schedules.models import Schedule
from app.schedules.rules import occurrences
from app.schedules.schemas import AirTime, CalendarEntry, CalendarRead

__all__ = ["village_calendar", "MAX_CALENDAR_DAYS"]

MAX_CALENDAR_DAYS = 31
_HIDDEN_STATES = ("withdrawn",)


def _seconds(media: list[dict[str, Any]] | None) -> tuple[float, ...]:
    return tuple(int(item.get("duration_ms") or 0) / 1000 for item in media or ())


def _view_of(order: PlayOrder) -> OrderView:
    cancelled_at = order.updated_at if order.state == "cancelled" else None
    return OrderView(
        id=order.id, start_at=order.start_at, not_after=order.not_after,
        items=_seconds(order.media), loop=max(order.loop, 1), kind=order.kind,
        level=order.level if order.kind == "urgent" else None, mode=order.mode,
        issued_at=order.issued_at, cancelled_at=cancelled_at,
    )


def _orders(session: Session, village: str, start: datetime, end: datetime) -> list[PlayOrder]:
    stmt = select(PlayOrder).where(
        PlayOrder.village_code == village, PlayOrder.state.not_in(_HIDDEN_STATES),
        PlayOrder.start_at < end, PlayOrder.not_after > start,
    ).order_by(PlayOrder.start_at, PlayOrder.id)
    return list(session.scalars(stmt))


def _planned(session: Session, village: Area, start: datetime, end: datetime, now: datetime,
             issued: set[tuple[str | None, datetime]]) -> list[tuple[OrderView, Schedule]]:
    """Occurrences of the schedules covering the village that no order stands for yet."""
    planned = []
    for schedule in schedules_covering(session, village):
        media = playout_media(session, schedule.playlist_id)
        items = _seconds(list(media.items)) if media is not None else ()
        duration_ms = int(media.duration_ms) if media is not None else 0
        reach = timedelta(milliseconds=schedule.loop * duration_ms) + timedelta(minutes=15)
        for moment in occurrences(rule_of(schedule), max(start - reach, now), end):
            not_after = order_not_after(moment, schedule.loop, duration_ms)
            if (schedule.id, moment) in issued or not_after <= start:
                continue
            view = OrderView(id=f"planned:{schedule.id}:{moment.isoformat()}", start_at=moment,
                             not_after=not_after, items=items, loop=schedule.loop)
            planned.append((view, schedule))
    return planned


def _air(segments: list[Segment]) -> dict[str, list[AirTime]]:
    """Air time per order, adjacent segments (item boundaries) merged."""
    zone = get_settings().tz
    merged: dict[str, list[list[datetime]]] = defaultdict(list)
    for segment in segments:
        spans = merged[segment.order_id]
        if spans and spans[-1][1] == segment.start:
            spans[-1][1] = segment.end
        else:
            spans.append([segment.start, segment.end])
    return {order_id: [AirTime(start_at=a.astimezone(zone), end_at=b.astimezone(zone))
                       for a, b in spans] for order_id, spans in merged.items()}


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput("`to` must be after `from`", code="invalid_range")
    if end - start > timedelta(days=MAX_CALENDAR_DAYS):
        raise InvalidInput(f"a calendar spans at most {MAX_CALENDAR_DAYS} days",
                           code="invalid_range")


def village_calendar(*, session: Session, village: Area, start: datetime, end: datetime,
                     now: datetime) -> CalendarRead:
    """What plays in ``village`` in [start, end): orders and planned occurrences, rule applied."""
    if village.level != "village":
        raise InvalidInput(f"{village.code!r} is a {village.level}, not a village",
                           code="not_a_village")
    _check_range(start, end)
    orders = _orders(session, village.code, start, end)
    issued: set[tuple[str | None, datetime]] = {
        (o.schedule_id, o.start_at) for o in orders if o.schedule_id}
    issued |= {(schedule_id, start_at) for schedule_id, start_at in session.execute(
        select(PlayOrder.schedule_id, PlayOrder.start_at).where(
            PlayOrder.village_code == village.code, PlayOrder.state.in_(_HIDDEN_STATES),
            PlayOrder.start_at < end, PlayOrder.start_at >= start - timedelta(days=1))
    )}
    planned = _planned(session, village, start, end, now, issued)
    views = [_view_of(o) for o in orders] + [view for view, _ in planned]
    air = _air(simulate(views, start, end))
    verdicts = outcomes(views)
    zone = get_settings().tz
    entries = [_order_entry(o, v, air, verdicts, zone) for o, v in zip(orders, views, strict=False)]
    entries += [_planned_entry(view, schedule, air, verdicts, zone) for view, schedule in planned]
    entries.sort(key=lambda e: (e.start_at, e.level or 5, e.order or ""))  # urgent I first
    return CalendarRead.model_validate({"village": village.code, "from": start.astimezone(zone),
                                        "to": end.astimezone(zone), "items": entries,
                                        "total": len(entries)})


def _end_at(view: OrderView) -> datetime:
    return min(view.start_at + view.duration, view.not_after)


def _order_entry(order: PlayOrder, view: OrderView, air: dict[str, list[AirTime]],
                 verdicts: dict[str, str], zone: Any) -> CalendarEntry:
    return CalendarEntry(
        kind="urgent" if order.kind == "urgent" else "routine", order=order.id,
        schedule=order.schedule_id, broadcast=order.broadcast_id, title=order.title,
        level=order.level, mode=order.mode, start_at=order.start_at.astimezone(zone),
        end_at=_end_at(view).astimezone(zone), not_after=order.not_after.astimezone(zone),
        loop=order.loop, volume=order.volume, state=order.state,
        expected=verdicts.get(order.id, "pending"), air=air.get(order.id, []),
    )


def _planned_entry(view: OrderView, schedule: Schedule, air: dict[str, list[AirTime]],
                   verdicts: dict[str, str], zone: Any) -> CalendarEntry:
    return CalendarEntry(
        kind="routine", order=None, schedule=schedule.id, broadcast=None, title=schedule.name,
        level=None, mode="actual", start_at=view.start_at.astimezone(zone),
        end_at=_end_at(view).astimezone(zone), not_after=view.not_after.astimezone(zone),
        loop=schedule.loop,
        volume=(schedule.slot_volumes or {}).get(f"{view.start_at.astimezone(zone):%H:%M}",
                                                 schedule.volume),
        state="planned",
        expected=verdicts.get(view.id, "pending"), air=air.get(view.id, []),
    )
