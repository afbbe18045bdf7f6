"""``GET /api/v1/playlog``: the as-run log, ``{items, total}`` or CSV (``Accept: text/csv``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.areas.service import get_area_in_scope
from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession
from app.errors import InvalidInput
from app.pagination import Page, Paging
from app.playout.playlog import playlog_csv, playlog_page, playlog_query
from app.playout.terminal_schemas import PlaylogEntry
from app.timeparams import assume_local

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/playlog", tags=["playlog"])
Reader = Annotated[Principal, Depends(require("playlog:read"))]


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split(",")[0]


@router.get(
    "", response_model=Page[PlaylogEntry],
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV on request"}},
)
def get_playlog(
    request: Request,
    principal: Reader,
    session: DbSession,
    paging: Paging,
    village: Annotated[str | None, Query(max_length=64,
                       description="a village, or a town or district for all its villages")] = None,
    start: Annotated[datetime | None,
                     Query(alias="from", description="scheduled at or after")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="scheduled before")] = None,
    speaker: Annotated[str | None, Query(max_length=40)] = None,
) -> Response | Page[PlaylogEntry]:
    """What each terminal reported playing, and the orders no terminal played (``missed``)."""
    start, end = assume_local(start), assume_local(end)
    if start and end and end <= start:
        raise InvalidInput("'to' must be after 'from'")
    paths = [principal.area_path] if principal.area_path else []
    if village:
        paths.append(get_area_in_scope(session=session, principal=principal, code=village).path)
    stmt = playlog_query(paths=paths, start=start, end=end, speaker=speaker)
    if _wants_csv(request):
        # A download is the whole window unless the client pages explicitly.
        limit = paging.limit if "limit" in request.query_params else None
        entries, _ = playlog_page(session=session, stmt=stmt, limit=limit, offset=paging.offset)
        return Response(playlog_csv(entries), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="playlog.csv"'})
    entries, total = playlog_page(session=session, stmt=stmt, limit=paging.limit,
                                  offset=paging.offset)
    return Page(items=entries, total=total)
