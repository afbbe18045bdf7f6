"""The terminal protocol (``/terminal/v1``): program with long-poll, heartbeats and receipts.

Only terminal tokens (``cxt_``) are accepted: no token is 401, a user's or an API
key's token 403. The long-poll holds no database connection while it waits: it
takes its village's event, reads the version (from memory, or in a short batched
session), and sleeps on the event until the change is committed or ``wait`` runs out
(304). Database work is bounded, batched and shared across waiters
(:mod:`app.playout.longpoll`). The program and heartbeat routes here define the
protocol (and its OpenAPI); :mod:`app.playout.fastpath` answers their well-formed
requests from an ASGI layer in front of FastAPI with the same functions.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from app.auth.deps import BearerToken
from app.auth.permissions import Principal
from app.db import DbSession, utcnow
from app.errors import Forbidden, Unauthorized
from app.playout import service
from app.playout.deliveries import DeliveryLog
from app.playout.longpoll import TerminalRuntime
from app.playout.notify import ProgramNotifications, ProgramNotifier
from app.playout.terminal_schemas import MAX_RECEIPTS, ProgramRead, ReceiptCreate, ReceiptsAck
from app.runtime import events
from app.speakers.heartbeats import Heartbeat, HeartbeatBuffer
from app.speakers.schemas import HeartbeatAck, HeartbeatIn

__all__ = ["router", "MAX_WAIT_S", "answer_program", "accept_heartbeat", "terminal_runtime"]

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


def terminal_runtime(app: FastAPI) -> TerminalRuntime:
    """The app's terminal runtime (made on first use, inside its event loop)."""
    runtime = getattr(app.state, "terminal_runtime", None)
    if runtime is None:
        runtime = app.state.terminal_runtime = TerminalRuntime()
    return runtime


async def _start_notifier(app: FastAPI) -> ProgramNotifier:
    """An app run without its lifespan (scripts): a notifier for good, unwatched."""
    notifications = ProgramNotifications(terminal_runtime(app), watch=False)
    await notifications.start()
    for name, handler in notifications.hears():
        events.subscribe(name, handler)
    notifier = app.state.program_notifier = notifications.notifier
    assert notifier is not None
    return notifier


async def _delivered(app: FastAPI, order_ids: tuple[str, ...]) -> None:
    deliveries: DeliveryLog | None = getattr(app.state, "deliveries", None)
    if deliveries is not None:
        deliveries.add(order_ids)
        return
    deliveries = DeliveryLog()  # an app run without its lifespan (scripts): write now
    deliveries.add(order_ids)
    await run_in_threadpool(deliveries.flush)


async def answer_program(app: FastAPI, token: str, version: int | None, wait: float,
                         base_url: str) -> tuple[int, bytes]:
    """The long-poll itself: ``(200, program JSON)`` or ``(304, b"")``.

    Shared by the route below and the fast path (:mod:`app.playout.fastpath`). Waits on
    the village's event without touching the database; a wake-up re-checks the token
    (rotated or retired meanwhile: 401) and the village (moved: listen there).
    """
    # Published by the app's lifespan (app.main) with the running services.
    notifier = getattr(app.state, "program_notifier", None) or await _start_notifier(app)
    loop = asyncio.get_running_loop()
    runtime = terminal_runtime(app)
    deadline = loop.time() + min(wait, MAX_WAIT_S)
    while True:
        terminal = await runtime.resolve(token)
        if terminal is None or terminal.kind != "terminal":
            raise Unauthorized("this terminal's token was revoked or the speaker retired")
        village = terminal.village_code or ""
        event = notifier.event_for(village)  # before reading: a change from now on sets it
        current = await runtime.version(village)
        if version is not None and current < version:
            # The terminal holds a newer program than this process knows of: another node
            # answered it first and the notification is still on its way. Read afresh rather
            # than answer the terminal again (or with an older program).
            runtime.villages_changed((village,))
            current = await runtime.version(village)
        if version is None or current != version:
            program = await runtime.program(village, current, base_url)
            if program.undelivered:
                await _delivered(app, program.undelivered)
            return 200, program.encoded(utcnow())
        remaining = deadline - loop.time()
        if remaining <= 0 or notifier.closing or not await notifier.wait(event, remaining):
            return 304, b""


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
    status, body = await answer_program(request.app, token, version, wait,
                                        str(request.base_url))
    if status == 304:
        return Response(status_code=304)
    return Response(body, media_type="application/json")


def _heartbeat_buffer(app: FastAPI) -> HeartbeatBuffer | None:
    return getattr(app.state, "heartbeats", None)


async def accept_heartbeat(app: FastAPI, terminal: Principal, body: HeartbeatIn,
                           arrived_at: datetime) -> HeartbeatAck:
    """Keep a heartbeat for the next batch write; the answer (shared with the fast path)."""
    now = utcnow()
    playing = body.playing if isinstance(body.playing, str) else ("yes" if body.playing else None)
    heartbeat = Heartbeat(
        speaker_id=terminal.id, received_at=now, at=min(body.at or now, now), status=body.status,
        power=body.power, fault=body.fault if body.status == "fault" else None,
        volume=body.volume, playing=playing,
    )
    buffer = _heartbeat_buffer(app)
    if buffer is None:  # no background flusher (an app run without its lifespan): write now
        buffer = HeartbeatBuffer()
        buffer.add(heartbeat)
        await run_in_threadpool(buffer.flush)
    else:
        buffer.add(heartbeat)
    return HeartbeatAck(speaker=terminal.id, village=terminal.village_code or "",
                        received_at=arrived_at, server_time=utcnow())


@router.post("/heartbeat", response_model=HeartbeatAck)
async def post_heartbeat(request: Request, terminal: Terminal, body: HeartbeatIn) -> HeartbeatAck:
    """Say the terminal is alive, how it is powered and whether it has a fault."""
    return await accept_heartbeat(request.app, terminal, body, request.state.arrived_at)


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
