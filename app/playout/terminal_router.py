"""The terminal protocol (``/terminal/v1``): program with long-poll, heartbeats and receipts.

Only terminal tokens (``cxt_``) are accepted: no token is 401, a user's or an API
key's token 403. The long-poll holds no database connection while it waits: it
takes its village's event, reads the version in a short session, and sleeps on the
event until the change is committed or ``wait`` runs out (304). Database work is
bounded, batched and shared across waiters (:mod:`app.playout.longpoll`).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.auth.deps import BearerToken
from app.auth.permissions import Principal
from app.auth.security import token_digest
from app.db import DbSession, utcnow
from app.errors import Forbidden, Unauthorized
from app.playout import jobs as _jobs  # noqa: F401  (registers the leader jobs)
from app.playout import service
from app.playout.deliveries import DeliveryLog
from app.playout.longpoll import terminal_runtime
from app.playout.notify import ProgramNotifier, start_program_notifier
from app.playout.terminal_schemas import MAX_RECEIPTS, ProgramRead, ReceiptCreate, ReceiptsAck
from app.speakers import service as _speakers  # noqa: F401  (registers the cxt_ token kind)
from app.speakers.heartbeats import Heartbeat, HeartbeatBuffer
from app.speakers.schemas import HeartbeatAck, HeartbeatIn

__all__ = ["router", "MAX_WAIT_S"]

MAX_WAIT_S = 60.0

router = APIRouter(prefix="/terminal/v1", tags=["terminal"])


async def _terminal(request: Request, token: BearerToken) -> Principal:
    """The terminal calling (401 for a bad token, 403 for a person's or an API key's)."""
    request.state.arrived_at = utcnow()  # before any database work: clock samples exclude it
    principal = await terminal_runtime(request.app).resolve(token)
    if principal is None:
        raise Unauthorized("invalid, revoked or retired token")
    if principal.kind != "terminal":
        raise Forbidden("the terminal protocol needs a terminal token (cxt_…)")
    return principal


Terminal = Annotated[Principal, Depends(_terminal)]


def _notifier(request: Request) -> ProgramNotifier:
    notifier = getattr(request.app.state, "program_notifier", None)
    if notifier is None:  # an app run without its lifespan (scripts): start one now
        start_program_notifier(request.app)
        notifier = request.app.state.program_notifier
    return notifier


async def _delivered(request: Request, order_ids: tuple[str, ...]) -> None:
    deliveries: DeliveryLog | None = getattr(request.app.state, "deliveries", None)
    if deliveries is not None:
        deliveries.add(order_ids)
        return
    deliveries = DeliveryLog()  # an app run without its lifespan (scripts): write now
    deliveries.add(order_ids)
    await run_in_threadpool(deliveries.flush)


@router.get(
    "/program", response_model=ProgramRead,
    responses={304: {"description": "the program is still at `version` after `wait` seconds"}},
)
async def get_program(
    request: Request,
    terminal: Terminal,
    token: BearerToken,
    version: Annotated[int | None, Query(ge=0, description="the version held")] = None,
    wait: Annotated[float, Query(ge=0, description="seconds to wait for a change (max 60)")] = 0,
) -> Response:
    """This terminal's program; with the current ``version``, waits for a change (long-poll)."""
    notifier, loop = _notifier(request), asyncio.get_running_loop()
    runtime = terminal_runtime(request.app)
    deadline = loop.time() + min(wait, MAX_WAIT_S)
    digest, village = token_digest(token), terminal.village_code or ""
    while True:
        event = notifier.event_for(village)  # before reading: a change from now on sets it
        state = await runtime.state(terminal.id, digest)
        if state is None:
            raise Unauthorized("this terminal's token was revoked or the speaker retired")
        current_village, current = state
        if version is None or current != version:
            base = str(request.base_url)
            program = await runtime.program(current_village, current, base)
            if program.undelivered:
                await _delivered(request, program.undelivered)
            return Response(program.encoded(utcnow()), media_type="application/json")
        if current_village != village:  # moved: listen to the new village instead
            village = current_village
            continue
        remaining = deadline - loop.time()
        if remaining <= 0 or not await notifier.wait(event, remaining):
            return Response(status_code=304)


def _heartbeat_buffer(request: Request) -> HeartbeatBuffer | None:
    return getattr(request.app.state, "heartbeats", None)


@router.post("/heartbeat", response_model=HeartbeatAck)
async def post_heartbeat(request: Request, terminal: Terminal, body: HeartbeatIn) -> HeartbeatAck:
    """Say the terminal is alive, how it is powered and whether it has a fault."""
    now = utcnow()
    playing = body.playing if isinstance(body.playing, str) else ("yes" if body.playing else None)
    heartbeat = Heartbeat(
        speaker_id=terminal.id, received_at=now, at=min(body.at or now, now), status=body.status,
        power=body.power, fault=body.fault if body.status == "fault" else None,
        volume=body.volume, playing=playing,
    )
    buffer = _heartbeat_buffer(request)
    if buffer is None:  # no background flusher (an app run without its lifespan): write now
        buffer = HeartbeatBuffer()
        buffer.add(heartbeat)
        await run_in_threadpool(buffer.flush)
    else:
        buffer.add(heartbeat)
    return HeartbeatAck(speaker=terminal.id, village=terminal.village_code or "",
                        received_at=request.state.arrived_at, server_time=utcnow())


@router.post("/receipts", response_model=ReceiptsAck)
def post_receipts(
    terminal: Terminal,
    session: DbSession,
    receipts: Annotated[list[ReceiptCreate], Body(max_length=MAX_RECEIPTS)],
) -> ReceiptsAck:
    """Report what was played (idempotent: the same order, terminal and event count once)."""
    result = service.record_receipts(
        session=session, terminal=terminal,
        receipts=[service.ReceiptIn(r.order, r.event, r.at, r.detail) for r in receipts],
    )
    return ReceiptsAck(accepted=result.accepted, duplicates=result.duplicates)
