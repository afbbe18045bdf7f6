"""HTTP routes for the area tree."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.areas import imports, service
from app.areas.schemas import AreaCreate, AreaRead, AreaUpdate, ImportRead, ImportResult, Level
from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession
from app.errors import AppError
from app.pagination import Page, Paging, fetch_page
from app.runtime.chunked import Interrupted

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


@router.post("/import", response_model=ImportResult, openapi_extra=_CSV_BODY, responses={
    202: {"model": ImportRead, "description": "a big import (or ``Prefer: respond-async``): "
          "accepted, written in the background; poll the ``Location``"},
    413: {"description": "larger than CUNXIANG_MAX_IMPORT_MB"},
    422: {"description": "bad lines, each listed; nothing was imported"},
    503: {"description": "the server stopped during the import; it resumes after a restart"},
})
async def import_areas(
    request: Request,
    principal: Writer,
    session: DbSession,
    prefer: Annotated[str | None, Header()] = None,
) -> Response | ImportResult:
    """Import areas from CSV (``code,name,level,parent``); any bad line: 422, nothing changes.

    Up to 5,000 lines answer once written; bigger files (or ``Prefer: respond-async``)
    answer 202 at once with the import, written a chunk at a time (``GET
    /api/v1/areas/imports/{id}`` shows its progress).
    """
    body = bytearray()  # read only now, the caller authorised; app.guard caps its size
    async for chunk in request.stream():
        body += chunk
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise service.CsvImportError("the CSV must be UTF-8", errors=[]) from None
    return await run_in_threadpool(_import, session, principal, text, prefer)


def _import(session: DbSession, principal: Principal, text: str,
            prefer: str | None) -> Response | ImportResult:
    job = imports.accept_import(session=session, principal=principal, text=text)
    if job.total > imports.SYNC_ROWS or "respond-async" in (prefer or "").lower():
        imports.run_in_background(job.id)
        return JSONResponse(_read(job).model_dump(mode="json"), status_code=202,
                            headers={"Location": f"/api/v1/areas/imports/{job.id}"})
    try:
        job = imports.run_import(job.id)
    except Interrupted:
        raise AppError(f"the server is stopping; import {job.id} resumes once it runs again",
                       code="shutting_down", status=503, id=job.id) from None
    if job.status == "failed":
        raise service.CsvImportError("the areas changed while importing; "
                                     f"{job.done} of {job.total} line(s) were written",
                                     errors=job.errors, id=job.id)
    return ImportResult(created=job.created, updated=job.updated)


@router.get("/imports/{import_id}", response_model=ImportRead)
def get_import(import_id: str, principal: Reader, session: DbSession) -> ImportRead:
    """How far a CSV import got (``done`` of ``total`` lines)."""
    return _read(imports.get_import(session=session, principal=principal, import_id=import_id))


def _read(job: imports.ImportJob) -> ImportRead:
    return ImportRead(id=job.id, status=job.status,  # type: ignore[arg-type]
                      total=job.total, done=job.done, created=job.created,
                      updated=job.updated, errors=job.errors, created_at=job.created_at,
                      finished_at=job.finished_at)


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
