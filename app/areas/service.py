"""Area rules: levels and parents, scoping and deletion guards (the CSV import: ``imports``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import cast

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.areas.models import PARENT_LEVEL, Area
from app.areas.schemas import AreaCreate, AreaRead, AreaUpdate, Level
from app.audit.service import record
from app.auth.permissions import Principal
from app.auth.scope import below, within
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.runtime.events import emit

__all__ = [
    "get_area",
    "get_area_in_scope",
    "create_area",
    "update_area",
    "delete_area",
    "list_areas",
    "to_read",
    "villages_under",
    "village_codes_under",
    "AREA_USAGE_CHECKS",
    "install_usage_checks",
    "CsvImportError",
]

# Why an area is still in use (or None), asked of the parts that refer to areas before one is
# deleted; installed at start-up by app.wiring.
AREA_USAGE_CHECKS: list[Callable[[Session, Area], str | None]] = []


def install_usage_checks(checks: Sequence[Callable[[Session, Area], str | None]]) -> None:
    """The checks :func:`delete_area` asks, in this order (replacing any installed before)."""
    AREA_USAGE_CHECKS[:] = checks


class CsvImportError(InvalidInput):
    """A CSV import with bad lines; ``errors`` lists each line and what is wrong with it."""

    code = "invalid_csv"


def to_read(area: Area) -> AreaRead:
    """The client view of an area."""
    return AreaRead(
        code=area.code, name=area.name, level=cast(Level, area.level),
        parent=area.parent_code, path=area.path, division_code=area.division_code,
    )


def get_area(*, session: Session, code: str) -> Area:
    """The area with ``code``; 404 when unknown."""
    area = session.get(Area, code)
    if area is None:
        raise NotFound(f"area {code!r} does not exist")
    return area


def get_area_in_scope(*, session: Session, principal: Principal, code: str) -> Area:
    """The area with ``code`` if the principal's area covers it; 403 otherwise."""
    area = get_area(session=session, code=code)
    if not principal.covers(area.path):
        raise Forbidden(f"area {code!r} is outside your area")
    return area


def _check_parent(session: Session, level: str, parent_code: str | None) -> Area | None:
    wanted = PARENT_LEVEL[level]
    if wanted is None:
        if parent_code:
            raise InvalidInput("a district has no parent")
        return None
    if not parent_code:
        raise InvalidInput(f"a {level} needs a parent {wanted}")
    parent = session.get(Area, parent_code)
    if parent is None:
        raise InvalidInput(f"parent {parent_code!r} does not exist")
    if parent.level != wanted:
        raise InvalidInput(
            f"a {level}'s parent must be a {wanted}, {parent_code!r} is a {parent.level}"
        )
    return parent


def _require_scope_for_parent(principal: Principal, parent: Area | None, code: str) -> None:
    if parent is None:
        if principal.area_path is not None:
            raise Forbidden("only a user without an area may create a district")
        return
    if not principal.covers(parent.path):
        raise Forbidden(f"{parent.code!r} is outside your area")
    if principal.area_path is not None and not principal.covers(parent.path + "/" + code):
        raise Forbidden("the new area would be outside your area")


def create_area(*, session: Session, principal: Principal, data: AreaCreate) -> Area:
    """Create an area under a parent of the right level; 409 when the code is taken."""
    parent = _check_parent(session, data.level, data.parent)
    _require_scope_for_parent(principal, parent, data.code)
    if session.get(Area, data.code) is not None:
        raise Conflict(f"area {data.code!r} already exists")
    path = f"{parent.path}/{data.code}" if parent else data.code
    area = Area(code=data.code, name=data.name, level=data.level, parent_code=data.parent,
                path=path, division_code=data.division_code)
    session.add(area)
    session.flush()
    record(session=session, actor=principal.actor, action="create", entity="area",
           entity_id=area.code, area_path=area.path, after=to_read(area).model_dump())
    emit(session, "area.created", area=area)
    return area


def _move(session: Session, area: Area, parent: Area) -> None:
    old_prefix, new_prefix = area.path, f"{parent.path}/{area.code}"
    for descendant in session.scalars(select(Area).where(below(Area.path, old_prefix))):
        descendant.path = new_prefix + descendant.path[len(old_prefix):]
    area.parent_code, area.path = parent.code, new_prefix
    session.flush()
    # Its villages leave the schedules of the old town or district and join the new one's.
    emit(session, "area.moved", area=area, old_path=old_prefix)


def update_area(*, session: Session, principal: Principal, code: str, data: AreaUpdate) -> Area:
    """Rename or move an area (its subtree moves with it)."""
    area = get_area_in_scope(session=session, principal=principal, code=code)
    before = to_read(area).model_dump()
    if data.name is not None:
        area.name = data.name
    if "division_code" in data.model_fields_set:
        area.division_code = data.division_code
    new_parent = data.parent or None  # "" as null: no parent
    if "parent" in data.model_fields_set and new_parent != area.parent_code:
        parent = _check_parent(session, area.level, new_parent)
        if parent is None:
            raise InvalidInput("a district has no parent")
        _require_scope_for_parent(principal, parent, area.code)
        _move(session, area, parent)
    session.flush()
    record(session=session, actor=principal.actor, action="update", entity="area",
           entity_id=area.code, area_path=area.path, before=before,
           after=to_read(area).model_dump())
    return area


def delete_area(*, session: Session, principal: Principal, code: str) -> None:
    """Delete an unused area; 409 while it has children, users, speakers or schedules."""
    area = get_area_in_scope(session=session, principal=principal, code=code)
    if session.scalar(select(Area.code).where(Area.parent_code == code).limit(1)):
        raise Conflict(f"area {code!r} still has child areas")
    for check in AREA_USAGE_CHECKS:
        reason = check(session, area)
        if reason:
            raise Conflict(f"area {code!r} is still used: {reason}")
    before = to_read(area).model_dump()
    try:
        with session.begin_nested():
            session.delete(area)
    except IntegrityError:
        raise Conflict(f"area {code!r} is still referenced by other records") from None
    record(session=session, actor=principal.actor, action="delete", entity="area",
           entity_id=code, area_path=before["path"], before=before)


def list_areas(
    *, principal: Principal, level: str | None = None, parent: str | None = None,
    under: str | None = None,
) -> Select[Area]:
    """Areas the principal may see, filtered by level, parent or an ancestor's path."""
    stmt = select(Area)
    if principal.area_path is not None:
        stmt = stmt.where(within(Area.path, principal.area_path))
    if level:
        stmt = stmt.where(Area.level == level)
    if parent:
        stmt = stmt.where(Area.parent_code == parent)
    if under:
        stmt = stmt.where(within(Area.path, under))
    return stmt.order_by(Area.path)


def villages_under(session: Session, areas: Iterable[Area]) -> list[Area]:
    """Every village in or under the given areas (a village itself counts), without repeats."""
    found: dict[str, Area] = {}
    for area in areas:
        if area.level == "village":
            found[area.code] = area
            continue
        stmt = select(Area).where(Area.level == "village", below(Area.path, area.path))
        for village in session.scalars(stmt):
            found[village.code] = village
    return sorted(found.values(), key=lambda a: a.code)


def village_codes_under(session: Session, codes: Iterable[str]) -> list[str]:
    """Village codes in or under the areas with ``codes`` (unknown codes are ignored)."""
    areas = [a for c in codes if (a := session.get(Area, c)) is not None]
    return [v.code for v in villages_under(session, areas)]
