"""HTTP routes for schedules, their occurrences and a village's calendar."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from app.areas.service import get_area_in_scope
from app.auth.deps import require
from app.auth.permissions import Principal
from app.config import get_settings
from app.db import DbSession, utcnow
from app.errors import InvalidInput
from app.pagination import Page, Paging, Search, fetch_page
from app.schedules import service
from app.schedules.calendar import village_calendar
from app.schedules.schemas import (
    CalendarRead,
    OccurrenceRead,
    ScheduleCreate,
    ScheduleRead,
    ScheduleUpdate,
)
from app.timeparams import assume_local

__all__ = ["router"]

router = APIRouter(tags=["schedules"])
Reader = Annotated[Principal, Depends(require("schedules:read"))]
Writer = Annotated[Principal, Depends(require("schedules:write"))]
From = Annotated[datetime | None, Query(alias="from", description="ISO 8601; default: now")]
To = Annotated[datetime | None, Query(alias="to", description="ISO 8601; default: `from` + 1 day")]
MAX_OCCURRENCE_DAYS = 92


def _range(start: datetime | None, end: datetime | None,
           max_days: int) -> tuple[datetime, datetime]:
    begin = assume_local(start) or utcnow()
    finish = assume_local(end) or begin + timedelta(days=1)
    if finish <= begin:
        raise InvalidInput("`to` must be after `from`", code="invalid_range")
    if finish - begin > timedelta(days=max_days):
        raise InvalidInput(f"the range spans at most {max_days} days", code="invalid_range")
    return begin, finish


@router.post("/api/v1/schedules", status_code=201, response_model=ScheduleRead)
def create_schedule(data: ScheduleCreate, principal: Writer, session: DbSession) -> ScheduleRead:
    """Create a schedule; its play orders are issued at once up to the horizon."""
    schedule = service.create_schedule(session=session, principal=principal, data=data)
    return service.to_read(session, schedule)


@router.get("/api/v1/schedules", response_model=Page[ScheduleRead])
def list_schedules(
    principal: Reader, session: DbSession, paging: Paging,
    area: Annotated[str | None, Query(max_length=64,
                                      description="schedules that play in this area")] = None,
    q: Search = None,
    enabled: Annotated[bool | None, Query(description="only enabled (or disabled) ones")] = None,
) -> Page[ScheduleRead]:
    """Schedules that play in the area (default: the caller's area); ``q`` searches names."""
    stmt = service.list_schedules(session=session, principal=principal, area=area, q=q,
                                  enabled=enabled)
    rows, total = fetch_page(session, stmt, paging)
    now = utcnow()
    return Page(items=[service.to_read(session, s, now) for s in rows], total=total)


@router.get("/api/v1/schedules/{schedule_id}", response_model=ScheduleRead)
def get_schedule(schedule_id: str, principal: Reader, session: DbSession) -> ScheduleRead:
    """One schedule."""
    schedule = service.get_schedule_for_reading(session=session, principal=principal,
                                                schedule_id=schedule_id)
    return service.to_read(session, schedule)


@router.patch("/api/v1/schedules/{schedule_id}", response_model=ScheduleRead)
def update_schedule(
    schedule_id: str, data: ScheduleUpdate, principal: Writer, session: DbSession
) -> ScheduleRead:
    """Change a schedule; its future orders are re-issued at once."""
    schedule = service.update_schedule(session=session, principal=principal,
                                       schedule_id=schedule_id, data=data)
    return service.to_read(session, schedule)


@router.delete("/api/v1/schedules/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: str, principal: Writer, session: DbSession) -> Response:
    """Delete a schedule; its future orders are withdrawn."""
    service.delete_schedule(session=session, principal=principal, schedule_id=schedule_id)
    return Response(status_code=204)


@router.get("/api/v1/schedules/{schedule_id}/occurrences", response_model=Page[OccurrenceRead])
def schedule_occurrences(
    schedule_id: str, principal: Reader, session: DbSession, paging: Paging,
    start: From = None, end: To = None,
) -> Page[OccurrenceRead]:
    """Start and end of each occurrence in [from, to) (at most 92 days)."""
    schedule = service.get_schedule_for_reading(session=session, principal=principal,
                                                schedule_id=schedule_id)
    begin, finish = _range(start, end, MAX_OCCURRENCE_DAYS)
    found = service.schedule_occurrences(session=session, schedule=schedule,
                                         start=begin, end=finish)
    zone = get_settings().tz
    page = found[paging.offset:paging.offset + paging.limit]
    return Page(items=[OccurrenceRead(start_at=a.astimezone(zone), end_at=b.astimezone(zone))
                       for a, b in page], total=len(found))


@router.get("/api/v1/villages/{code}/calendar", response_model=CalendarRead)
def calendar(
    code: str, principal: Reader, session: DbSession, paging: Paging,
    start: From = None, end: To = None,
) -> CalendarRead:
    """What plays in the village, routine and urgent, with the playout rule applied; paged."""
    village = get_area_in_scope(session=session, principal=principal, code=code)
    begin, finish = _range(start, end, 31)
    # The playout rule needs every entry of the range, so the page is cut from the whole.
    whole = village_calendar(session=session, village=village, start=begin, end=finish,
                             now=utcnow())
    page = whole.items[paging.offset:paging.offset + paging.limit]
    return whole.model_copy(update={"items": page})
