"""Area rules: levels and parents, scoping, deletion guards and the all-or-nothing CSV import."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.areas.models import LEVELS, PARENT_LEVEL, Area
from app.areas.paths import below, within
from app.areas.schemas import AreaCreate, AreaRead, AreaUpdate, Level
from app.audit.service import record
from app.auth.permissions import Principal
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.events import emit
from app.inputs import hostile_reason

__all__ = [
    "get_area",
    "get_area_in_scope",
    "create_area",
    "update_area",
    "delete_area",
    "list_areas",
    "import_areas_csv",
    "to_read",
    "villages_under",
    "village_codes_under",
    "AREA_USAGE_CHECKS",
    "CsvImportError",
]

_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")

# Other domains append checks that say why an area is still in use (or None).
AREA_USAGE_CHECKS: list[Callable[[Session, Area], str | None]] = []


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


# ---------------------------------------------------------------- CSV import


@dataclass
class _Row:
    line: int
    code: str
    name: str
    level: str
    parent: str | None


def _parse_csv(text: str) -> tuple[list[_Row], list[dict[str, object]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        return _parse_lines(reader)
    except csv.Error as exc:  # a field past the csv module's limit, …
        raise CsvImportError("nothing was imported", errors=[
            {"line": reader.line_num, "detail": f"unreadable CSV: {exc}"}]) from None


def _parse_lines(reader: Any) -> tuple[list[_Row], list[dict[str, object]]]:
    rows: list[_Row] = []
    errors: list[dict[str, object]] = []
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["code", "name", "level", "parent"]:
        errors.append({"line": 1, "detail": "the header must be code,name,level,parent"})
        return rows, errors
    seen: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != 4:
            errors.append({"line": line, "detail": f"expected 4 fields, found {len(fields)}"})
            continue
        code, name, level, parent = (f.strip() for f in fields)
        problem = _line_problem(fields, seen)
        if problem:
            errors.append({"line": line, "detail": problem})
            continue
        seen[code] = line
        rows.append(_Row(line, code, name, level, parent or None))
    return rows, errors


def _line_problem(fields: list[str], seen: dict[str, int]) -> str | None:
    """What is wrong with one line's fields by themselves, or None."""
    code, name, level, _parent = (f.strip() for f in fields)
    hostile = next(filter(None, map(hostile_reason, fields)), None)
    if hostile:
        return hostile
    if not _CODE.match(code):
        return f"invalid code {code!r}"
    if not name or len(name) > 200:
        return "name must be 1 to 200 characters"
    if level not in LEVELS:
        return f"level must be one of {', '.join(LEVELS)}"
    if code in seen:
        return f"code {code!r} already appears on line {seen[code]}"
    return None


def _resolve_levels(session: Session, rows: list[_Row]) -> list[dict[str, object]]:
    by_code = {r.code: r for r in rows}
    errors: list[dict[str, object]] = []
    for row in rows:
        wanted = PARENT_LEVEL[row.level]
        if wanted is None:
            if row.parent:
                errors.append({"line": row.line, "detail": "a district has no parent"})
            continue
        if not row.parent:
            errors.append({"line": row.line, "detail": f"a {row.level} needs a parent {wanted}"})
            continue
        parent_level = by_code[row.parent].level if row.parent in by_code else None
        if parent_level is None and (existing := session.get(Area, row.parent)) is not None:
            parent_level = existing.level
        if parent_level is None:
            errors.append({"line": row.line, "detail": f"parent {row.parent!r} does not exist"})
        elif parent_level != wanted:
            detail = f"a {row.level}'s parent must be a {wanted}, not a {parent_level}"
            errors.append({"line": row.line, "detail": detail})
    return errors


def _check_existing(
    session: Session, principal: Principal, rows: list[_Row]
) -> list[dict[str, object]]:
    errors: list[dict[str, object]] = []
    for row in rows:
        existing = session.get(Area, row.code)
        if existing is not None and existing.level != row.level:
            detail = f"{row.code!r} exists as a {existing.level}, not a {row.level}"
            errors.append({"line": row.line, "detail": detail})
        elif existing is not None and not principal.covers(existing.path):
            errors.append({"line": row.line, "detail": f"{row.code!r} is outside your area"})
    return errors


def import_areas_csv(*, session: Session, principal: Principal, text: str) -> tuple[int, int]:
    """Create or update areas from CSV; any bad line → 422 listing every bad line,
    nothing changed.
    """
    rows, errors = _parse_csv(text)
    if rows:
        errors += _resolve_levels(session, rows) + _check_existing(session, principal, rows)
    if errors:
        errors.sort(key=lambda e: int(str(e["line"])))
        raise CsvImportError(
            f"{len(errors)} bad line(s); nothing was imported", errors=errors
        )
    created = updated = 0
    pending = list(rows)
    while pending:  # parents before children, whatever the file's order
        ready = [r for r in pending if not r.parent or session.get(Area, r.parent) is not None]
        for row in ready:
            outcome = _apply_row(session, principal, row)
            created += outcome == "created"
            updated += outcome == "updated"
        pending = [r for r in pending if r not in ready]
        if not ready:
            raise CsvImportError(
                "nothing was imported",
                errors=[{"line": r.line, "detail": "parent cycle"} for r in pending],
            )
    return created, updated


def _apply_row(session: Session, principal: Principal, row: _Row) -> str | None:
    """Create or update one line's area: "created", "updated" or None (unchanged).

    A rule broken only now (a move under a parent outside the caller's area, …) is still a
    line error: the whole import is refused and the request's rollback undoes earlier lines.
    """
    existing = session.get(Area, row.code)
    try:
        if existing is None:
            create_area(session=session, principal=principal,
                        data=AreaCreate(code=row.code, name=row.name, level=row.level,  # type: ignore[arg-type]
                                        parent=row.parent))
            return "created"
        if existing.name != row.name or existing.parent_code != row.parent:
            update_area(session=session, principal=principal, code=row.code,
                        data=AreaUpdate(name=row.name, parent=row.parent))
            return "updated"
    except (Forbidden, InvalidInput, Conflict, NotFound) as exc:
        raise CsvImportError(
            "nothing was imported", errors=[{"line": row.line, "detail": exc.message}],
        ) from None
    return None
