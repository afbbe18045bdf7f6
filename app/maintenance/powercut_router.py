"""``GET /api/v1/reports/power-cuts``: speakers cut by residents, JSON or CSV."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from app.areas.models import Area
from app.areas.service import get_area_in_scope
from app.auth.deps import require
from app.auth.permissions import Principal
from app.config import get_settings
from app.db import DbSession, utcnow
from app.errors import InvalidInput
from app.maintenance.powercut_report import (
    PowerCutReport,
    ReportInput,
    power_cut_csv,
    power_cut_report,
)
from app.maintenance.powercuts import Params
from app.speakers.heartbeats import HISTORY_SAMPLE_S
from app.timeparams import assume_local

__all__ = ["router", "report_for"]

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
ReportReader = Annotated[Principal, Depends(require("reports:read"))]


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split(",")[0]


def report_for(session: DbSession, principal: Principal, start: datetime | None,
               end: datetime | None, town: str | None, window_minutes: int = 15,
               min_events: int = 3) -> tuple[PowerCutReport, ReportInput]:
    """The report for the query's parameters (also the console page's)."""
    end = assume_local(end) or utcnow()
    start = assume_local(start) or end - timedelta(days=30)
    area: Area | None = None
    if town:
        area = get_area_in_scope(session=session, principal=principal, code=town)
        if area.level != "town":
            raise InvalidInput(f"{town!r} is a {area.level}, not a town", code="not_a_town")
    params = Params(window_minutes=window_minutes, min_events=min_events,
                    gap_seconds=HISTORY_SAMPLE_S + get_settings().heartbeat_timeout + 60)
    return power_cut_report(session=session, principal=principal, start=start, end=end,
                            town=area, params=params)


@router.get("/power-cuts", response_model=PowerCutReport, response_model_by_alias=True,
            responses={200: {"content": {"text/csv": {}},
                             "description": "JSON, or CSV on request"}})
def power_cuts(
    request: Request, principal: ReportReader, session: DbSession,
    start: Annotated[datetime | None,
                     Query(alias="from", description="default: 30 days before 'to'")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    town: Annotated[str | None, Query(max_length=64, description="one town only")] = None,
    window_minutes: Annotated[int, Query(ge=1, le=120, description=(
        "a cut this soon after a loop starts counts as following it"))] = 15,
    min_events: Annotated[int, Query(ge=2, le=100, description=(
        "cuts needed to suspect a speaker"))] = 3,
) -> Response | PowerCutReport:
    """Speakers whose power cuts follow their own broadcasts (or come at the same hour every
    day), per village, with the schedule slots involved and what to change in them; cuts of
    many speakers of a town at once are the grid's and listed apart."""
    report, _ = report_for(session, principal, start, end, town, window_minutes, min_events)
    if _wants_csv(request):
        return Response(power_cut_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="power-cuts.csv"'})
    return report
