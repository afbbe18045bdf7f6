"""HTTP routes of day types: the shared village calendar schedules follow or skip."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from app.auth.deps import require
from app.auth.permissions import Principal
from app.daytypes import service
from app.daytypes.schemas import DayTypeCreate, DayTypeRead, DayTypeUpdate
from app.db import DbSession
from app.pagination import Page, Paging, fetch_page

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/day-types", tags=["schedules"])
Reader = Annotated[Principal, Depends(require("schedules:read"))]
# One calendar for the whole service: only admins change it (a town's staff would change
# every other town's schedules).
Admin = Annotated[Principal, Depends(require("calendar:write"))]


@router.post("", status_code=201, response_model=DayTypeRead)
def create_day_type(data: DayTypeCreate, principal: Admin, session: DbSession) -> DayTypeRead:
    """A new day type (春节, 农忙 …) and its dates."""
    day_type = service.create_day_type(session=session, principal=principal, data=data)
    return service.to_read(session, day_type)


@router.get("", response_model=Page[DayTypeRead])
def list_day_types(principal: Reader, session: DbSession, paging: Paging) -> Page[DayTypeRead]:
    """Every day type with its dates."""
    rows, total = fetch_page(session, service.list_day_types(), paging)
    return Page(items=[service.to_read(session, d) for d in rows], total=total)


@router.get("/{name}", response_model=DayTypeRead)
def get_day_type(name: str, principal: Reader, session: DbSession) -> DayTypeRead:
    """One day type."""
    return service.to_read(session, service.get_day_type(session=session, name=name))


@router.patch("/{name}", response_model=DayTypeRead)
def update_day_type(name: str, data: DayTypeUpdate, principal: Admin,
                    session: DbSession) -> DayTypeRead:
    """Change its dates (replace, add, remove): the schedules using it are re-issued."""
    day_type = service.update_day_type(session=session, principal=principal, name=name, data=data)
    return service.to_read(session, day_type)


@router.delete("/{name}", status_code=204, response_class=Response)
def delete_day_type(name: str, principal: Admin, session: DbSession) -> Response:
    """Delete a day type no schedule uses."""
    service.delete_day_type(session=session, principal=principal, name=name)
    return Response(status_code=204)
