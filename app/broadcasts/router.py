"""HTTP routes of urgent broadcasts: JSON requests, CAP 1.2 alerts, cancel, list and status.

The routes that issue or cancel run their database work in the event loop's own executor,
not in the request threadpool: the moment a broadcast commits, every woken terminal
long-poll queues its program there, and the originator's answer must not wait behind a
thousand of them. They use the request's session like every route, and commit it before
composing the answer (:func:`app.db.commit_early`), so terminals wake first.
A CAP document is parsed and its shapes matched in a pool of its own first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.auth.deps import require
from app.auth.permissions import Principal
from app.broadcasts import cap_targets, flows, service
from app.broadcasts.schemas import BroadcastCreate, BroadcastRead, CapOutcome
from app.config import get_settings
from app.db import DbSession, commit_early
from app.errors import PayloadTooLarge, UnsupportedMedia
from app.pagination import Page, Paging, Search, fetch_page
from app.speakers.deps import FreshHeartbeats

__all__ = ["router", "CAP_CONTENT_TYPES"]

T = TypeVar("T")

router = APIRouter(prefix="/api/v1/broadcasts", tags=["broadcasts"])
Reader = Annotated[Principal, Depends(require("broadcasts:read"))]
Writer = Annotated[Principal, Depends(require("broadcasts:write"))]


# CAP documents are parsed and their shapes matched here (CPU work, a second at worst).
_CAP_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="cap-locate")


async def _off_loop(work: Callable[..., T], *args: Any) -> T:
    """Run blocking work in the loop's default executor (apart from the request threadpool)."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(work, *args))


IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="retrying with the same key and body answers the same broadcast (200); "
        "the same key with another body is 409. Keys are kept at least 24 h.",
    ),
]

CAP_CONTENT_TYPES = ("application/cap+xml", "application/xml", "text/xml")


def _read(session: Session, broadcast: Any) -> BroadcastRead:
    return service.describe(session, [broadcast])[0]


@router.post(
    "",
    status_code=201,
    response_model=BroadcastRead,
    responses={
        200: {"model": BroadcastRead, "description": "the same request again"},
        409: {"description": "the Idempotency-Key was used with another body"},
    },
)
async def create_broadcast(
    data: BroadcastCreate,
    principal: Writer,
    session: DbSession,
    idempotency_key: IdempotencyKeyHeader = None,
) -> Response:
    """Broadcast at once to every village of the targets (levels III–IV wait out quiet hours)."""
    created, body = await _off_loop(_create, session, principal, data, idempotency_key)
    return Response(body, status_code=201 if created else 200, media_type="application/json")


def _create(
    session: Session, principal: Principal, data: BroadcastCreate, key: str | None
) -> tuple[bool, bytes]:
    issued = flows.create_broadcast(
        session=session, principal=principal, data=data, idempotency_key=key
    )
    commit_early(session)  # terminals wake now, not after the answer below is composed
    # Encoded here, off the event loop, without a model object per village.
    return issued.created, service.describe_json(session, issued.broadcast)


@router.get("", response_model=Page[BroadcastRead], dependencies=[FreshHeartbeats])
def list_broadcasts(
    principal: Reader,
    session: DbSession,
    paging: Paging,
    active: Annotated[bool | None, Query(description="true: only active ones")] = None,
    q: Search = None,
) -> Page[BroadcastRead]:
    """Broadcasts the caller may see, newest first; ``q`` searches titles."""
    rows, total = fetch_page(
        session, service.list_broadcasts(principal=principal, active=active, q=q), paging
    )
    return Page(items=service.describe(session, rows), total=total)


def _content_type(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in CAP_CONTENT_TYPES:
        raise UnsupportedMedia(
            "send the CAP document as application/cap+xml or application/xml, "
            f"not {media_type or 'nothing'}"
        )


async def _body_up_to(request: Request, limit: int) -> bytes:
    """The request body, refusing (413, without reading on) anything over ``limit`` bytes."""
    too_large = PayloadTooLarge(f"the CAP document is larger than {limit} bytes "
                                "(CUNXIANG_MAX_CAP_MB)")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


def _cap_answer(session: Session, outcome: flows.CapResult) -> Response:
    if outcome.result in ("created", "replayed"):
        status = 201 if outcome.result == "created" else 200
        read = service.describe_json(session, outcome.broadcasts[0])
        return Response(read, status_code=status, media_type="application/json")
    reads = service.describe(session, outcome.broadcasts)
    alert = outcome.alert
    body = CapOutcome(
        result=outcome.result,  # type: ignore[arg-type]
        detail=outcome.detail,
        identifier=alert.identifier,
        sender=alert.sender,
        status=alert.status,
        msg_type=alert.msg_type,
        broadcasts=reads,
    )
    return JSONResponse(
        jsonable_encoder(body), status_code=200 if outcome.result == "cancelled" else 202
    )


def _locate(session: Session, document: bytes) -> cap_targets.LocatedCap:
    # Speakers' positions are read only for an alert with shapes to match them against.
    return flows.locate_cap(document, positions=lambda: cap_targets.speaker_positions(session))


def _apply_cap(session: Session, principal: Principal,
               located: cap_targets.LocatedCap) -> Response:
    outcome = flows.apply_cap(session=session, principal=principal, located=located)
    commit_early(session)  # terminals wake now, not after the answer below is composed
    return _cap_answer(session, outcome)


@router.post(
    "/cap",
    status_code=201,
    response_model=BroadcastRead,
    responses={
        200: {
            "description": "a Cancel, or an Update that expired on arrival (CapOutcome); "
            "an alert received before (BroadcastRead)"
        },
        202: {"model": CapOutcome, "description": "System or Draft: accepted, not broadcast"},
        400: {"description": "malformed XML, hostile, or not CAP 1.2 (`invalid_cap`)"},
        404: {"description": "a Cancel of alerts never broadcast here (`unknown_reference`)"},
        413: {"description": "larger than CUNXIANG_MAX_CAP_MB"},
        415: {"description": "not application/cap+xml or application/xml"},
        422: {
            "description": "valid CAP that cannot be broadcast: unknown AreaCode values "
            "(`unknown_area`), no village in its area (`no_villages`), no <info> "
            "(`nothing_to_broadcast`), already expired (`already_expired`)"
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/cap+xml": {"schema": {"type": "string"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_cap(request: Request, principal: Writer, session: DbSession) -> Response:
    """Act on a CAP 1.2 alert: Alert broadcasts, Update replaces, Cancel cancels."""
    _content_type(request)
    document = await _body_up_to(request, get_settings().max_cap_bytes)
    # Parsing and geometry wait in their own small pool, never in the executor that issues
    # broadcasts: a queue of huge polygons cannot hold up a level-I broadcast.
    located = await asyncio.get_running_loop().run_in_executor(_CAP_POOL, _locate, session,
                                                               document)
    return await _off_loop(_apply_cap, session, principal, located)


@router.get("/{broadcast_id}", response_model=BroadcastRead, dependencies=[FreshHeartbeats])
def get_broadcast(broadcast_id: str, principal: Reader, session: DbSession) -> BroadcastRead:
    """A broadcast and its state in every village."""
    return _read(
        session,
        service.get_broadcast_in_scope(
            session=session, principal=principal, broadcast_id=broadcast_id
        ),
    )


@router.post("/{broadcast_id}/cancel", response_model=BroadcastRead)
async def cancel_broadcast(broadcast_id: str, principal: Writer,
                           session: DbSession) -> BroadcastRead:
    """Stop a broadcast: terminals drop it from their program and stop playing it."""
    return await _off_loop(_cancel, session, principal, broadcast_id)


def _cancel(session: Session, principal: Principal, broadcast_id: str) -> BroadcastRead:
    broadcast = service.get_broadcast_in_scope(
        session=session, principal=principal, broadcast_id=broadcast_id
    )
    service.cancel_broadcast(session=session, principal=principal, broadcast=broadcast)
    commit_early(session)  # terminals wake now, not after the answer below is composed
    return _read(session, broadcast)
