"""Request dependencies of the speakers' part: reads that must see every heartbeat answered."""

from __future__ import annotations

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from app.speakers.heartbeats import HeartbeatBuffer

__all__ = ["FreshHeartbeats"]


async def _fresh_heartbeats(request: Request) -> None:
    """Write this process's pending heartbeats first: a read sees every heartbeat answered
    (and the health transitions they cause: outages closing, villages reachable again)."""
    buffer: HeartbeatBuffer | None = getattr(request.app.state, "heartbeats", None)
    if buffer is not None and len(buffer):
        await run_in_threadpool(buffer.flush)


# ``dependencies=[FreshHeartbeats]`` on a route that reads speakers' health.
FreshHeartbeats = Depends(_fresh_heartbeats)
