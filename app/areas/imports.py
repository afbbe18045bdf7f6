"""CSV import of areas: the whole file checked first, then written a chunk at a time.

All or nothing for bad input: the file is parsed and checked in memory against the areas
already stored (read in a few bulk queries, parents resolved through a dict) and any bad line
refuses the whole import with 422, before anything is written.

A good file becomes an :class:`AreaImport` (the CSV kept with it) and is written in level
order (districts, towns, villages) in short transactions sized by
:class:`app.runtime.chunked.Pacer`, so that an urgent broadcast never waits long behind a
100,000-line import. Each chunk commits together with the import's progress (``done``,
``created``, ``updated``), which a client polls at ``GET /api/v1/areas/imports/{id}``. Areas
are visible chunk by chunk as they are written. If the process stops half-way (SIGTERM:
between two chunks; a crash: anywhere), the import is resumed from its last committed chunk by
the scheduler's lease holder (or on the next start), checked again against the areas as they
are then; areas already written stay written.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.areas.models import LEVELS, PARENT_LEVEL, Area, AreaImport
from app.areas.schemas import AreaUpdate
from app.areas.service import CsvImportError, update_area
from app.audit.service import record_many
from app.auth.permissions import Principal
from app.db import session_scope, utcnow
from app.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from app.inputs import hostile_reason
from app.runtime.chunked import Interrupted, Pacer, start_worker
from app.runtime.events import emit

__all__ = [
    "SYNC_ROWS",
    "ImportJob",
    "accept_import",
    "run_import",
    "run_in_background",
    "get_import",
    "resume_imports",
    "RESUME_EVERY_S",
]

log = logging.getLogger(__name__)

# Imports up to this many lines answer once written; longer ones answer 202 at once.
SYNC_ROWS = 5000
# Lines per transaction: the first chunk's, the fewest and the most (sized to ~0.25 s).
CHUNK_LINES = (500, 50, 10000)
# Lines just checked by accept_import in this process, so run_import need not check again.
_checked: dict[str, list[_Row]] = {}
# An import no process has written a chunk of for this long is resumed by the lease holder.
_STALE = timedelta(seconds=15)
RESUME_EVERY_S = 5  # how often the lease holder looks for stale imports
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_IN = 500  # codes per IN (…) list
_LEVEL_ORDER = {level: index for index, level in enumerate(LEVELS)}


@dataclass(frozen=True)
class _Row:
    line: int
    code: str
    name: str
    level: str
    parent: str | None


@dataclass
class ImportJob:
    """An import's state as its client sees it."""

    id: str
    status: str
    total: int
    done: int
    created: int
    updated: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    created_at: datetime | None = None
    finished_at: datetime | None = None

    @classmethod
    def of(cls, row: AreaImport) -> ImportJob:
        """The view of a stored import."""
        return cls(row.id, row.status, row.total, row.done, row.created, row.updated,
                   list(row.errors or []), row.created_at, row.finished_at)


# ---------------------------------------------------------------- checking the file


def _parse(text: str) -> tuple[list[_Row], list[dict[str, Any]]]:
    reader = csv.reader(io.StringIO(text))
    try:
        return _parse_lines(reader)
    except csv.Error as exc:  # a field past the csv module's limit, …
        return [], [{"line": reader.line_num, "detail": f"unreadable CSV: {exc}"}]


def _parse_lines(reader: Any) -> tuple[list[_Row], list[dict[str, Any]]]:
    rows: list[_Row] = []
    errors: list[dict[str, Any]] = []
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["code", "name", "level", "parent"]:
        return rows, [{"line": 1, "detail": "the header must be code,name,level,parent"}]
    seen: dict[str, int] = {}
    for fields in reader:
        line = reader.line_num
        fields = [f.strip() for f in fields]
        if not any(fields):
            continue
        if len(fields) != 4:
            errors.append({"line": line, "detail": f"expected 4 fields, found {len(fields)}"})
            continue
        code, name, level, parent = fields
        problem = next(filter(None, map(hostile_reason, fields)), None) or _field_problem(
            code, name, level, seen)
        if problem:
            errors.append({"line": line, "detail": problem})
            continue
        seen[code] = line
        rows.append(_Row(line, code, name, level, parent or None))
    return rows, errors


def _field_problem(code: str, name: str, level: str, seen: dict[str, int]) -> str | None:
    if not _CODE.match(code):
        return f"invalid code {code!r}"
    if not name or len(name) > 200:
        return "name must be 1 to 200 characters"
    if level not in LEVELS:
        return f"level must be one of {', '.join(LEVELS)}"
    if code in seen:
        return f"code {code!r} already appears on line {seen[code]}"
    return None


@dataclass(frozen=True)
class _Stored:
    level: str
    name: str
    parent: str | None
    path: str


def _stored(session: Session, codes: Iterable[str]) -> dict[str, _Stored]:
    """The stored areas among ``codes``, a few bulk queries for any number."""
    wanted, found = sorted(set(codes)), {}
    for start in range(0, len(wanted), _IN):
        stmt = select(Area.code, Area.level, Area.name, Area.parent_code, Area.path).where(
            Area.code.in_(wanted[start:start + _IN]))
        found.update({code: _Stored(level, name, parent, path)
                      for code, level, name, parent, path in session.execute(stmt)})
    return found


def _in_level_order(rows: list[_Row]) -> list[_Row]:
    """Parents before children, whatever the file's order (then by line)."""
    return sorted(rows, key=lambda r: (_LEVEL_ORDER[r.level], r.line))


def _check(rows: list[_Row], stored: dict[str, _Stored],
           principal: Principal) -> list[dict[str, Any]]:
    """Every line error of a parsed file, against the stored areas (pure, linear)."""
    by_code = {r.code: r for r in rows}
    paths: dict[str, str] = {}  # where each line's area will be
    errors: list[dict[str, Any]] = []
    for row in _in_level_order(rows):
        problem = _line_problem(row, by_code, stored, paths, principal)
        if problem:
            errors.append({"line": row.line, "detail": problem})
    return errors


def _line_problem(row: _Row, by_code: dict[str, _Row], stored: dict[str, _Stored],
                  paths: dict[str, str], principal: Principal) -> str | None:
    existing = stored.get(row.code)
    if existing is not None and existing.level != row.level:
        return f"{row.code!r} exists as a {existing.level}, not a {row.level}"
    if existing is not None and not principal.covers(existing.path):
        return f"{row.code!r} is outside your area"
    wanted = PARENT_LEVEL[row.level]
    if wanted is None:
        if row.parent:
            return "a district has no parent"
        if existing is None and principal.area_path is not None:
            return "only a user without an area may create a district"
        paths[row.code] = row.code
        return None
    if not row.parent:
        return f"a {row.level} needs a parent {wanted}"
    parent_row, parent_stored = by_code.get(row.parent), stored.get(row.parent)
    parent_level = parent_row.level if parent_row else (
        parent_stored.level if parent_stored else None)
    if parent_level is None:
        return f"parent {row.parent!r} does not exist"
    if parent_level != wanted:
        return f"a {row.level}'s parent must be a {wanted}, not a {parent_level}"
    parent_path = paths.get(row.parent) or (parent_stored.path if parent_stored else None)
    if parent_path is None:
        return None  # its parent's own line is in error (reported there)
    paths[row.code] = f"{parent_path}/{row.code}"
    if existing is None or existing.parent != row.parent:  # a new area, or a move
        if not principal.covers(parent_path):
            return f"{row.parent!r} is outside your area"
        if not principal.covers(paths[row.code]):
            return "the area would be outside your area"
    return None


def _plan(session: Session, principal: Principal, text: str) -> list[_Row]:
    """The file's lines in the order they are written; 422 listing every bad line."""
    rows, errors = _parse(text)
    if rows:
        stored = _stored(session, [r.code for r in rows] + [r.parent for r in rows if r.parent])
        errors += _check(rows, stored, principal)
    if errors:
        errors.sort(key=lambda e: int(e["line"]))
        raise CsvImportError(f"{len(errors)} bad line(s); nothing was imported", errors=errors)
    return _in_level_order(rows)


# ---------------------------------------------------------------- accepting and running


def accept_import(*, session: Session, principal: Principal, text: str) -> ImportJob:
    """Check the whole file (422 on any bad line, nothing stored) and record the import."""
    rows = _plan(session, principal, text)
    with session_scope() as own:  # committed now: the chunks run in transactions of their own
        job = AreaImport(actor=principal.actor, scope_path=principal.area_path,
                         status="running", total=len(rows), done=0, created=0, updated=0,
                         payload=text, heartbeat_at=utcnow())
        own.add(job)
        own.flush()
        accepted = ImportJob.of(job)
    _checked[accepted.id] = rows
    return accepted


def _principal_of(job: AreaImport) -> Principal:
    """Who the import acts as (the importer, with the area it had when it was accepted)."""
    kind, _, name = job.actor.partition(":")
    return Principal(kind=kind, id=name, name=name, role=None, area_code=None,
                     area_path=job.scope_path, permissions=frozenset({"areas:write"}))


Progress = Callable[[ImportJob], None]


def run_import(import_id: str, *, progress: Progress | None = None) -> ImportJob:
    """Write an accepted import's remaining lines, a chunk per transaction; its final state.

    Raises :class:`app.runtime.chunked.Interrupted` when the process stops between two chunks (the
    import is left to be resumed).
    """
    with session_scope() as session:
        job = session.get(AreaImport, import_id)
        if job is None:
            raise NotFound(f"import {import_id!r} does not exist")
        if job.status != "running" or job.payload is None:
            return ImportJob.of(job)
        principal, text, start = _principal_of(job), job.payload, job.done
        rows = _checked.pop(import_id, None)
        try:  # a resumed import is checked again against the areas as they are now
            rows = (rows if rows is not None else _plan(session, principal, text))[start:]
        except CsvImportError as exc:
            return _finish(import_id, "failed", exc.extra.get("errors", []))
    try:
        for chunk in Pacer(first=CHUNK_LINES[0], least=CHUNK_LINES[1],
                           most=CHUNK_LINES[2]).chunks(rows):
            state = _write_chunk(import_id, principal, chunk)
            if progress is not None:
                progress(state)
    except Interrupted:
        _release(import_id)
        raise
    except AppError as exc:  # a rule broken by a change made meanwhile
        return _finish(import_id, "failed", exc.extra.get("errors") or
                       [{"line": 0, "detail": exc.message}])
    return _finish(import_id, "done", [])


def _write_chunk(import_id: str, principal: Principal, rows: Sequence[_Row]) -> ImportJob:
    for attempt in range(3):
        try:
            with session_scope() as session:
                created, updated = _apply(session, principal, rows)
                return _advance(session, import_id, len(rows), created, updated)
        except IntegrityError:  # someone created one of these codes meanwhile: read again
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _advance(session: Session, import_id: str, rows: int, created: int,
             updated: int) -> ImportJob:
    session.execute(update(AreaImport).where(AreaImport.id == import_id).values(
        done=AreaImport.done + rows, created=AreaImport.created + created,
        updated=AreaImport.updated + updated, heartbeat_at=utcnow(),
    ).execution_options(synchronize_session=False))
    job = session.get(AreaImport, import_id, populate_existing=True)
    assert job is not None
    return ImportJob.of(job)


def _finish(import_id: str, status: str, errors: list[dict[str, Any]]) -> ImportJob:
    with session_scope() as session:
        job = session.get(AreaImport, import_id)
        assert job is not None
        job.status, job.errors, job.payload = status, errors or None, None
        job.heartbeat_at, job.finished_at = None, utcnow()
        session.flush()
        if status == "failed":
            log.warning("area import %s failed after %d of %d line(s): %s", import_id,
                        job.done, job.total, errors[:3])
        return ImportJob.of(job)


def _release(import_id: str) -> None:
    """Stopped between two chunks: nobody works on it now, the next process resumes it."""
    with session_scope() as session:
        session.execute(update(AreaImport).where(AreaImport.id == import_id)
                        .values(heartbeat_at=None))


# ---------------------------------------------------------------- one chunk


def _apply(session: Session, principal: Principal, rows: Sequence[_Row]) -> tuple[int, int]:
    """Create or update one chunk's areas (parents first); (created, updated)."""
    current = _stored(session, [r.code for r in rows])
    outside = [r.parent for r in rows if r.parent and r.parent not in current]
    paths = {code: area.path for code, area in _stored(session, outside).items()}
    new: list[tuple[_Row, str]] = []
    renamed: list[tuple[_Row, _Stored]] = []
    created = moved = 0
    for row in rows:
        area = current.get(row.code)
        if area is None:
            if row.parent and row.parent not in paths:  # deleted since the file was checked
                raise CsvImportError(f"line {row.line}: parent {row.parent!r} does not exist",
                                     errors=[{"line": row.line, "detail":
                                              f"parent {row.parent!r} does not exist"}])
            path = f"{paths[row.parent]}/{row.code}" if row.parent else row.code
            new.append((row, path))
            paths[row.code] = path
        elif area.parent != row.parent:  # a move takes its subtree along: one by one
            created += _insert(session, principal, new)
            new = []
            paths[row.code] = _move(session, principal, row)
            moved += 1
            current = _stored(session, [r.code for r in rows])  # its subtree's new paths
        else:
            paths[row.code] = area.path
            if area.name != row.name:
                renamed.append((row, area))
    created += _insert(session, principal, new)
    _rename(session, principal, renamed)
    return created, moved + len(renamed)


def _insert(session: Session, principal: Principal, new: list[tuple[_Row, str]]) -> int:
    """New areas, their audit entries and their villages' orders: a few bulk statements."""
    if not new:
        return 0
    now = utcnow()
    views = [_view(row.code, row.name, row.level, row.parent, path) for row, path in new]
    areas = [{"code": v["code"], "name": v["name"], "level": v["level"],
              "parent_code": v["parent"], "path": v["path"], "created_at": now,
              "updated_at": now} for v in views]
    session.connection().execute(cast(Table, Area.__table__).insert(), areas)
    _audit(session, principal, "create", [(v["code"], v["path"], None, v) for v in views])
    emit(session, "areas.created",
         villages=[(a["code"], a["path"]) for a in areas if a["level"] == "village"])
    return len(areas)


def _rename(session: Session, principal: Principal,
            renamed: list[tuple[_Row, _Stored]]) -> None:
    if not renamed:
        return
    now = utcnow()
    table = cast(Table, Area.__table__)
    session.connection().execute(
        table.update().where(table.c.code == bindparam("b_code"))
        .values(name=bindparam("b_name"), updated_at=now),
        [{"b_code": row.code, "b_name": row.name} for row, _ in renamed])
    _audit(session, principal, "update", [
        (row.code, old.path, _view(row.code, old.name, old.level, old.parent, old.path),
         _view(row.code, row.name, old.level, old.parent, old.path))
        for row, old in renamed])


def _move(session: Session, principal: Principal, row: _Row) -> str:
    """A line that moves an existing area (and its subtree) under another parent."""
    try:
        area = update_area(session=session, principal=principal, code=row.code,
                           data=AreaUpdate(name=row.name, parent=row.parent))
    except (Forbidden, InvalidInput, Conflict, NotFound) as exc:
        raise CsvImportError(f"line {row.line}: {exc.message}",
                             errors=[{"line": row.line, "detail": exc.message}]) from None
    return area.path


def _view(code: str, name: str, level: str, parent: str | None, path: str) -> dict[str, Any]:
    return {"code": code, "name": name, "level": level, "parent": parent, "path": path}


def _audit(session: Session, principal: Principal, action: str,
           entries: list[tuple[str, str, Any, Any]]) -> None:
    """One audit entry per area (as a single create or update would write), in one statement."""
    record_many(session=session, actor=principal.actor, action=action, entity="area",
                entries=entries)


# ---------------------------------------------------------------- reading, background, resuming


def get_import(*, session: Session, principal: Principal, import_id: str) -> ImportJob:
    """An import's progress; 404 unless the caller's area covers the importer's."""
    job = session.get(AreaImport, import_id)
    if job is None or not (principal.area_path is None
                           or (job.scope_path and principal.covers(job.scope_path))):
        raise NotFound(f"import {import_id!r} does not exist")
    return ImportJob.of(job)


def run_in_background(import_id: str) -> None:
    """Write the import in a thread of this process (stopped with it, between chunks)."""

    def work() -> None:
        try:
            run_import(import_id)
        except Interrupted:
            log.info("area import %s stopped between two chunks; it will be resumed", import_id)
        except Exception:  # left running: the lease holder resumes it once it is stale
            log.exception("area import %s failed; it will be resumed", import_id)

    start_worker(work, name=f"import-{import_id}")


def resume_imports(*, now: datetime | None = None) -> int:
    """Resume the imports no process has written a chunk of lately; how many."""
    cutoff = (now or utcnow()) - _STALE
    stale = (AreaImport.heartbeat_at.is_(None)) | (AreaImport.heartbeat_at < cutoff)
    with session_scope() as session:
        found = list(session.scalars(select(AreaImport.id).where(
            AreaImport.status == "running", stale).order_by(AreaImport.created_at)))
    resumed = 0
    for import_id in found:
        with session_scope() as session:
            claimed = session.execute(
                update(AreaImport).where(AreaImport.id == import_id,
                                         AreaImport.status == "running", stale)
                .values(heartbeat_at=utcnow()).returning(AreaImport.id)
                .execution_options(synchronize_session=False)).first()
        if claimed is not None:
            log.info("resuming area import %s", import_id)
            run_import(import_id)
            resumed += 1
    return resumed
