"""HTTP routes for the area tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from app.areas import service
from app.areas.schemas import AreaCreate, AreaRead, AreaUpdate, ImportResult, Level
from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession
from app.pagination import Page, Paging, fetch_page

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/areas", tags=["areas"])
Reader = Annotated[Principal, Depends(require("areas:read"))]
Writer = Annotated[Principal, Depends(require("areas:write"))]


@router.post("", status_code=201, response_model=AreaRead)
def create_area(data: AreaCreate, principal: Writer, session: DbSession) -> AreaRead:
    """Create a district, town or village."""
    return service.to_read(service.create_area(session=session, principal=principal, data=data))


@router.get("", response_model=Page[AreaRead])
def list_areas(
    principal: Reader,
    session: DbSession,
    paging: Paging,
    level: Annotated[Level | None, Query()] = None,
    parent: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[AreaRead]:
    """Areas inside the caller's area, by level or parent."""
    stmt = service.list_areas(principal=principal, level=level, parent=parent)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=[service.to_read(a) for a in rows], total=total)


_CSV_BODY = {"requestBody": {"required": True, "content": {
    "text/csv": {"schema": {"type": "string", "description": "code,name,level,parent"}}}}}


@router.post("/import", response_model=ImportResult, openapi_extra=_CSV_BODY,
             responses={413: {"description": "larger than CUNXIANG_MAX_IMPORT_MB"}})
async def import_areas(request: Request, principal: Writer, session: DbSession) -> ImportResult:
    """Import areas from CSV (``code,name,level,parent``); all or nothing."""
    body = bytearray()  # read only now, the caller authorised; app.guard caps its size
    async for chunk in request.stream():
        body += chunk
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise service.CsvImportError("the CSV must be UTF-8", errors=[]) from None
    created, updated = await run_in_threadpool(
        service.import_areas_csv, session=session, principal=principal, text=text)
    return ImportResult(created=created, updated=updated)


@router.get("/{code}", response_model=AreaRead)
def get_area(code: str, principal: Reader, session: DbSession) -> AreaRead:
    """One area (403 outside the caller's area)."""
    area = service.get_area_in_scope(session=session, principal=principal, code=code)
    return service.to_read(area)


@router.patch("/{code}", response_model=AreaRead)
def update_area(code: str, data: AreaUpdate, principal: Writer, session: DbSession) -> AreaRead:
    """Rename or move an area."""
    return service.to_read(
        service.update_area(session=session, principal=principal, code=code, data=data)
    )


@router.delete("/{code}", status_code=204)
def delete_area(code: str, principal: Writer, session: DbSession) -> Response:
    """Delete an area that nothing uses any more (409 otherwise)."""
    service.delete_area(session=session, principal=principal, code=code)
    return Response(status_code=204)
