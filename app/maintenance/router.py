"""HTTP routes for outages, crews, tickets, reports and webhooks (SPEC §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession
from app.errors import InvalidInput
from app.maintenance import crews, reports, service, webhooks
from app.maintenance.schemas import (
    CoverageReport,
    CrewCreate,
    CrewRead,
    CrewUpdate,
    DeliveryRead,
    MaintenanceReport,
    OutageCreate,
    OutageRead,
    TicketComment,
    TicketRead,
    TicketReopen,
    TicketResolve,
    WebhookCreate,
    WebhookRead,
)
from app.pagination import Page, Paging, Search, fetch_page
from app.speakers.deps import FreshHeartbeats
from app.timeparams import assume_local

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["maintenance"])

TicketReader = Annotated[Principal, Depends(require("tickets:read"))]
OutageWriter = Annotated[Principal, Depends(require("outages:write"))]
# Crews are part of running the speaker network: whoever manages speakers in an area.
CrewWriter = Annotated[Principal, Depends(require("speakers:write"))]
ReportReader = Annotated[Principal, Depends(require("reports:read"))]
WebhookAdmin = Annotated[Principal, Depends(require("webhooks:write"))]
TicketStatus = Literal["open", "claimed", "resolved", "closed"]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON, or CSV on request"}}


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split(",")[0]


def _csv(body: str, name: str) -> Response:
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# ---------------------------------------------------------------- outages


@router.post("/outages", status_code=201, response_model=OutageRead, tags=["outages"])
def report_outage(data: OutageCreate, principal: OutageWriter, session: DbSession) -> OutageRead:
    """Report a speaker out of order by hand; its ticket opens at once."""
    return service.outage_read(service.report_outage(session=session, principal=principal,
                                                     data=data))


@router.get("/outages", response_model=Page[OutageRead], tags=["outages"],
            dependencies=[FreshHeartbeats])
def list_outages(
    principal: TicketReader, session: DbSession, paging: Paging,
    speaker: Annotated[str | None, Query(max_length=40)] = None,
    village: Annotated[str | None, Query(max_length=64)] = None,
    open: Annotated[bool | None, Query(description="only open (true) or closed (false)")] = None,
) -> Page[OutageRead]:
    """Outages inside the caller's area (a crew: its towns), newest first."""
    stmt = service.list_outages(session=session, principal=principal, speaker=speaker,
                                village=village, open_only=open)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=[service.outage_read(o) for o in rows], total=total)


# ---------------------------------------------------------------- crews


@router.post("/crews", status_code=201, response_model=CrewRead, tags=["crews"])
def create_crew(data: CrewCreate, principal: CrewWriter, session: DbSession) -> CrewRead:
    """Form a repair crew serving towns (镇台联动); their tickets go to it."""
    return crews.crew_read(session, crews.create_crew(session=session, principal=principal,
                                                      data=data))


@router.get("/crews", response_model=Page[CrewRead], tags=["crews"])
def list_crews(principal: TicketReader, session: DbSession, paging: Paging) -> Page[CrewRead]:
    """Crews serving towns in the caller's area (a crew member: also their own crews)."""
    rows, total = fetch_page(session, crews.list_crews(principal=principal), paging)
    return Page(items=crews.crews_read(session, rows), total=total)


@router.get("/crews/{crew_id}", response_model=CrewRead, tags=["crews"])
def get_crew(crew_id: str, principal: TicketReader, session: DbSession) -> CrewRead:
    """One crew."""
    return crews.crew_read(session, crews.get_crew_in_scope(session=session, principal=principal,
                                                            crew_id=crew_id))


@router.patch("/crews/{crew_id}", response_model=CrewRead, tags=["crews"])
def update_crew(crew_id: str, data: CrewUpdate, principal: CrewWriter,
                session: DbSession) -> CrewRead:
    """Rename a crew or replace its towns or members."""
    return crews.crew_read(session, crews.update_crew(session=session, principal=principal,
                                                      crew_id=crew_id, data=data))


@router.delete("/crews/{crew_id}", status_code=204, tags=["crews"])
def delete_crew(crew_id: str, principal: CrewWriter, session: DbSession) -> Response:
    """Disband a crew (its tickets wait for the next crew serving their towns)."""
    crews.delete_crew(session=session, principal=principal, crew_id=crew_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- tickets


@router.get("/tickets", response_model=Page[TicketRead], tags=["tickets"],
            dependencies=[FreshHeartbeats])
def list_tickets(
    principal: TicketReader, session: DbSession, paging: Paging,
    status: Annotated[TicketStatus | None, Query()] = None,
    town: Annotated[str | None, Query(max_length=64)] = None,
    crew: Annotated[str | None, Query(max_length=40)] = None,
    overdue: Annotated[bool | None, Query(description="open or claimed and past due")] = None,
    village: Annotated[str | None, Query(max_length=64)] = None,
    speaker: Annotated[str | None, Query(max_length=40)] = None,
    q: Search = None,
) -> Page[TicketRead]:
    """Tickets the caller may see (a crew member: their crews'), newest first; ``q`` searches
    the village's name and the speaker's serial, name and location."""
    stmt = service.list_tickets(session=session, principal=principal, status=status, town=town,
                                crew=crew, overdue=overdue, village=village, speaker=speaker,
                                q=q)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=service.tickets_read(session, rows), total=total)


@router.get("/tickets/{ticket_id}", response_model=TicketRead, tags=["tickets"],
            dependencies=[FreshHeartbeats])
def get_ticket(ticket_id: str, principal: TicketReader, session: DbSession) -> TicketRead:
    """One ticket with its timeline (403 for another crew's)."""
    ticket = service.get_ticket_in_scope(session=session, principal=principal,
                                         ticket_id=ticket_id)
    return service.ticket_read(session, ticket)


@router.post("/tickets/{ticket_id}/claim", response_model=TicketRead, tags=["tickets"])
def claim_ticket(ticket_id: str, principal: TicketReader, session: DbSession) -> TicketRead:
    """Take an open ticket on."""
    ticket = service.claim_ticket(session=session, principal=principal, ticket_id=ticket_id)
    return service.ticket_read(session, ticket)


@router.post("/tickets/{ticket_id}/resolve", response_model=TicketRead, tags=["tickets"])
def resolve_ticket(ticket_id: str, data: TicketResolve, principal: TicketReader,
                   session: DbSession) -> TicketRead:
    """Record the cause and the repair; the ticket closes when the speaker sounds healthy."""
    ticket = service.resolve_ticket(session=session, principal=principal, ticket_id=ticket_id,
                                    data=data)
    return service.ticket_read(session, ticket)


@router.post("/tickets/{ticket_id}/reopen", response_model=TicketRead, tags=["tickets"])
def reopen_ticket(ticket_id: str, data: TicketReopen, principal: TicketReader,
                  session: DbSession) -> TicketRead:
    """Send a resolved or closed ticket back, with the reason."""
    ticket = service.reopen_ticket(session=session, principal=principal, ticket_id=ticket_id,
                                   data=data)
    return service.ticket_read(session, ticket)


@router.post("/tickets/{ticket_id}/comments", response_model=TicketRead, tags=["tickets"])
def comment_ticket(ticket_id: str, data: TicketComment, principal: TicketReader,
                   session: DbSession) -> TicketRead:
    """Add a note to the ticket's timeline."""
    ticket = service.comment_ticket(session=session, principal=principal, ticket_id=ticket_id,
                                    text=data.text)
    return service.ticket_read(session, ticket)


# ---------------------------------------------------------------- reports


@router.get("/reports/coverage", response_model=CoverageReport, responses=CSV_RESPONSE,
            tags=["reports"], dependencies=[FreshHeartbeats])
def coverage_report(request: Request, principal: ReportReader, session: DbSession,
                    paging: Paging) -> Response | CoverageReport:
    """Per town: villages, silent villages (no speaker online), speakers, speakers online."""
    items = reports.coverage(session=session, principal=principal)
    page = items[paging.offset:paging.offset + paging.limit]
    if _wants_csv(request):
        return _csv(reports.coverage_csv(page), "coverage.csv")
    return CoverageReport(items=page, total=len(items))


@router.get("/reports/maintenance", response_model=MaintenanceReport, responses=CSV_RESPONSE,
            tags=["reports"])
def maintenance_report(
    request: Request, principal: ReportReader, session: DbSession,
    start: Annotated[datetime | None,
                     Query(alias="from", description="default: 30 days before 'to'")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
) -> Response | MaintenanceReport:
    """Tickets opened and closed in the period, by cause, with median and mean time to repair."""
    start, end = assume_local(start), assume_local(end)
    if start and end and end <= start:
        raise InvalidInput("'to' must be after 'from'")
    report = reports.maintenance_report(session=session, principal=principal, start=start,
                                        end=end)
    if _wants_csv(request):
        return _csv(reports.maintenance_csv(report), "maintenance.csv")
    return report


# ---------------------------------------------------------------- webhooks


@router.post("/webhooks", status_code=201, response_model=WebhookRead, tags=["webhooks"])
def create_webhook(data: WebhookCreate, principal: WebhookAdmin,
                   session: DbSession) -> WebhookRead:
    """Subscribe a URL to events; each POST is signed with the secret (HMAC-SHA256)."""
    return webhooks.webhook_read(webhooks.create_webhook(session=session, principal=principal,
                                                         data=data))


@router.get("/webhooks", response_model=Page[WebhookRead], tags=["webhooks"])
def list_webhooks(principal: WebhookAdmin, session: DbSession,
                  paging: Paging) -> Page[WebhookRead]:
    """Every subscription."""
    rows, total = fetch_page(session, webhooks.list_webhooks(session=session), paging)
    return Page(items=[webhooks.webhook_read(w) for w in rows], total=total)


@router.get("/webhooks/{webhook_id}", response_model=WebhookRead, tags=["webhooks"])
def get_webhook(webhook_id: str, principal: WebhookAdmin, session: DbSession) -> WebhookRead:
    """One subscription."""
    return webhooks.webhook_read(webhooks.get_webhook(session=session, webhook_id=webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204, tags=["webhooks"])
def delete_webhook(webhook_id: str, principal: WebhookAdmin, session: DbSession) -> Response:
    """Unsubscribe (pending deliveries are dropped)."""
    webhooks.delete_webhook(session=session, principal=principal, webhook_id=webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries", response_model=Page[DeliveryRead],
            tags=["webhooks"])
def list_deliveries(webhook_id: str, principal: WebhookAdmin, session: DbSession,
                    paging: Paging) -> Page[DeliveryRead]:
    """The delivery log: each event, its attempts, last answer and error, newest first."""
    stmt = webhooks.list_deliveries(session=session, webhook_id=webhook_id)
    rows, total = fetch_page(session, stmt, paging)
    return Page(items=[webhooks.delivery_read(d) for d in rows], total=total)
