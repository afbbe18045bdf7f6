"""``GET /api/v1/broadcasts/{id}/receipt``: the national-shape receipt, JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from app.auth.deps import require
from app.auth.permissions import Principal
from app.broadcasts import service
from app.broadcasts.receipt import national_receipt, receipt_csv
from app.db import DbSession
from app.speakers.deps import FreshHeartbeats

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/broadcasts", tags=["broadcasts"])
Reader = Annotated[Principal, Depends(require("broadcasts:read"))]


def _wants_csv(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept.split(",")[0]


@router.get(
    "/{broadcast_id}/receipt",
    dependencies=[FreshHeartbeats],
    responses={200: {"content": {"text/csv": {}},
                     "description": "EBMStateResponse fields as JSON, or CSV on request"}},
)
def get_receipt(
    broadcast_id: str, request: Request, principal: Reader, session: DbSession
) -> Any:
    """The broadcast's state report in the national receipt's fields (BrdStateCode, Coverage,
    per-village and per-terminal rows) for reporting upward; ``Accept: text/csv`` for CSV."""
    broadcast = service.get_broadcast_in_scope(
        session=session, principal=principal, broadcast_id=broadcast_id
    )
    receipt = national_receipt(session, broadcast)
    if _wants_csv(request):
        return Response(
            receipt_csv(receipt), media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="receipt-{broadcast.id}.csv"'},
        )
    return receipt
