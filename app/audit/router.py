"""HTTP route for reading the audit log (admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.areas.service import get_area
from app.audit.service import query
from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession
from app.pagination import Page, Paging, fetch_page
from app.timeparams import assume_local

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


class AuditRead(BaseModel):
    """One audit entry."""

    id: str
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    area_path: str | None
    before: Any
    after: Any


@router.get("", response_model=Page[AuditRead])
def read_audit(
    principal: Annotated[Principal, Depends(require("audit:read"))],
    session: DbSession,
    paging: Paging,
    area: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[datetime | None, Query(
        alias="from", description="ISO 8601; without an offset: the service's local time")] = None,
    to: Annotated[datetime | None, Query(
        description="ISO 8601; without an offset: the service's local time")] = None,
    entity: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[AuditRead]:
    """The audit log, newest first, filtered by area subtree and period (admin)."""
    path = get_area(session=session, code=area).path if area else None
    since, until = assume_local(from_), assume_local(to)
    rows, total = fetch_page(session, query(area_path=path, since=since, until=until,
                                            entity=entity), paging)
    return Page(items=[AuditRead.model_validate(r, from_attributes=True) for r in rows],
                total=total)
