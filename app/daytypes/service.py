"""Day types: create, change (re-issuing the schedules that use them), delete, list.

Schedules follow or skip day types by name; this part does not know them: a change emits
``day_type.changed`` (the schedules' part re-issues those using it, in the same transaction)
and which schedules use a day type is asked of the finder :mod:`app.wiring` installs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.audit.service import record
from app.auth.permissions import Principal
from app.daytypes.models import DayType, DayTypeDate
from app.daytypes.schemas import DayTypeCreate, DayTypeRead, DayTypeUpdate
from app.errors import Conflict, NotFound
from app.runtime.events import emit

__all__ = ["create_day_type", "update_day_type", "delete_day_type", "get_day_type",
           "list_day_types", "to_read", "schedules_using", "install_schedule_finder"]

ScheduleFinder = Callable[[Session, str], list[str]]
# Which schedules follow or skip a day type (their ids), as the schedules' part answers it;
# installed at start-up by app.wiring.
_finders: list[ScheduleFinder] = []


def install_schedule_finder(finder: ScheduleFinder) -> None:
    """Who answers :func:`schedules_using` (replacing any installed before)."""
    _finders[:] = [finder]


def get_day_type(*, session: Session, name: str) -> DayType:
    """The day type; 404 when unknown."""
    day_type = session.get(DayType, name)
    if day_type is None:
        raise NotFound(f"day type {name!r} does not exist")
    return day_type


def list_day_types() -> Select[Any]:
    """Every day type, by name."""
    return select(DayType).order_by(DayType.name)


def schedules_using(session: Session, name: str) -> list[str]:
    """Ids of the schedules that follow or skip the day type."""
    return [sid for finder in _finders for sid in finder(session, name)]


def to_read(session: Session, day_type: DayType) -> DayTypeRead:
    """The client view."""
    return DayTypeRead(name=day_type.name, description=day_type.description,
                       dates=[d.day for d in day_type.dates],
                       schedules=schedules_using(session, day_type.name))


def _view(day_type: DayType) -> dict[str, Any]:
    return {"description": day_type.description, "dates": [d.day for d in day_type.dates]}


def _set_dates(day_type: DayType, dates: set[date]) -> None:
    kept = [d for d in day_type.dates if d.day in dates]
    known = {d.day for d in kept}
    day_type.dates = kept + [DayTypeDate(day_type=day_type.name, day=d)
                             for d in sorted(dates - known)]


def _changed(session: Session, principal: Principal, day_type: DayType, action: str,
             before: dict[str, Any] | None) -> None:
    session.flush()
    emit(session, "day_type.changed", day_type=day_type.name)  # its schedules are re-issued
    record(session=session, actor=principal.actor, action=action, entity="day_type",
           entity_id=day_type.name, before=before, after=_view(day_type))


def create_day_type(*, session: Session, principal: Principal, data: DayTypeCreate) -> DayType:
    """Store a day type with its dates; 409 when the name is taken."""
    if session.get(DayType, data.name) is not None:
        raise Conflict(f"day type {data.name!r} already exists", code="duplicate_name")
    day_type = DayType(name=data.name, description=data.description, dates=[])
    session.add(day_type)
    _set_dates(day_type, set(data.dates))
    _changed(session, principal, day_type, "create", None)
    return day_type


def update_day_type(*, session: Session, principal: Principal, name: str,
                    data: DayTypeUpdate) -> DayType:
    """Change the description or the dates; the schedules using it are re-issued at once."""
    day_type = get_day_type(session=session, name=name)
    before = _view(day_type)
    if "description" in data.model_fields_set:
        day_type.description = data.description
    dates = set(data.dates) if data.dates is not None else {d.day for d in day_type.dates}
    _set_dates(day_type, (dates | set(data.add)) - set(data.remove))
    _changed(session, principal, day_type, "update", before)
    return day_type


def delete_day_type(*, session: Session, principal: Principal, name: str) -> None:
    """Delete a day type no schedule uses (409 naming the schedules otherwise)."""
    day_type = get_day_type(session=session, name=name)
    users = schedules_using(session, name)
    if users:
        raise Conflict(f"day type {name!r} is used by schedule(s) {', '.join(users[:5])}",
                       code="in_use", schedules=users)
    before = _view(day_type)
    session.delete(day_type)
    session.flush()
    record(session=session, actor=principal.actor, action="delete", entity="day_type",
           entity_id=name, before=before)
