"""``GET /api/v1/reports/coverage/history``: coverage per town per hour or day, JSON or CSV."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession, utcnow
from app.maintenance import history
from app.maintenance.router import CSV_RESPONSE, _csv, _wants_csv
from app.maintenance.schemas import CoverageHistory
from app.pagination import Paging
from app.speakers.deps import FreshHeartbeats
from app.timeparams import assume_local

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["reports"])
ReportReader = Annotated[Principal, Depends(require("reports:read"))]


@router.get("/reports/coverage/history", response_model=CoverageHistory,
            responses=CSV_RESPONSE, dependencies=[FreshHeartbeats])
def coverage_history(
    request: Request, principal: ReportReader, session: DbSession, paging: Paging,
    start: Annotated[datetime | None, Query(
        alias="from", description="default: 30 days (step=day) or 48 hours (step=hour) "
        "before 'to'; the first period begins at the local day or hour holding it")] = None,
    end: Annotated[datetime | None, Query(
        alias="to", description="default and latest: now (the last period is cut there)")] = None,
    town: Annotated[str | None, Query(max_length=64, description="one town (default: every "
                                      "town in the caller's area)")] = None,
    step: Annotated[Literal["day", "hour"], Query(description="local days or hours")] = "day",
) -> Response | CoverageHistory:
    """Coverage per town and period: the snapshot's counts averaged over each day or hour.

    Derived from speakers' outages: a speaker is online from its first heartbeat until it
    is retired, except while an outage detected from its heartbeats (silence or a reported
    fault) is open; a village is silent while none of its speakers is online. At most
    1,000 periods per request. ``Accept: text/csv`` gives every row as CSV (unless
    ``limit`` is given).
    """
    edges = history.history_window(assume_local(start), assume_local(end), step, utcnow())
    items = history.coverage_history(session=session, principal=principal, edges=edges,
                                     town=town)
    if _wants_csv(request):
        if "limit" in request.query_params:
            items = items[paging.offset:paging.offset + paging.limit]
        return _csv(history.coverage_history_csv(items), "coverage-history.csv")
    return CoverageHistory(items=items[paging.offset:paging.offset + paging.limit],
                           total=len(items))
