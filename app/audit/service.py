"""Writing and reading the audit log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from app.audit.models import AuditEntry
from app.auth.scope import within
from app.db import utcnow
from app.ids import new_id

__all__ = ["record", "record_many", "query", "jsonable"]


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of ``value`` (datetimes become ISO strings)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def record(
    *,
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: str,
    area_path: str | None = None,
    before: Any = None,
    after: Any = None,
) -> AuditEntry:
    """Add one audit entry to the current transaction (it commits with the change)."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        area_path=area_path,
        before=jsonable(before),
        after=jsonable(after),
    )
    session.add(entry)
    return entry


def record_many(*, session: Session, actor: str, action: str, entity: str,
                entries: Iterable[tuple[str, str | None, Any, Any]]) -> None:
    """Add one audit entry per ``(entity_id, area_path, before, after)`` in one statement (a
    bulk change: an import's chunk); ``before`` and ``after`` must be JSON-ready already."""
    now = utcnow()
    session.connection().execute(cast(Table, AuditEntry.__table__).insert(), [
        {"id": new_id("aud"), "at": now, "actor": actor, "action": action, "entity": entity,
         "entity_id": entity_id, "area_path": area_path, "before": before, "after": after}
        for entity_id, area_path, before, after in entries])


def query(
    *,
    area_path: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    entity: str | None = None,
    actor: str | None = None,
) -> Select[AuditEntry]:
    """Audit entries filtered by area subtree and time, newest first."""
    stmt = select(AuditEntry)
    if area_path:
        stmt = stmt.where(within(AuditEntry.area_path, area_path))
    if since:
        stmt = stmt.where(AuditEntry.at >= since)
    if until:
        stmt = stmt.where(AuditEntry.at < until)
    if entity:
        stmt = stmt.where(AuditEntry.entity == entity)
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
