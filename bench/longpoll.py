"""Benchmark: 1,000 terminals long-polling their program, one change to every village.

Run from the project root: ``.venv/bin/python bench/longpoll.py``. A real server (uvicorn,
one process) holds 1,000 long-polls — 100 villages × 10 speakers, from 2 client processes
(a minimal asyncio HTTP client, one connection each). One transaction then adds an order
to each of the 100 villages; the wake-up latency of a terminal is the time from that
commit to its answer arriving. The same run measures a bare ``asyncio.Event`` fan-out to
1,000 waiters (100 events × 10) in one process: the floor any long-poll sits on.
Printed: p50 / p99 / max of both, ratios.

``BENCH_VILLAGES`` and ``BENCH_PER_VILLAGE`` change the crowd. Internal modes:
``--serve`` (the server with a bench-only ``POST /bench/change`` that makes
the change and reports its commit time) and ``--clients FILE FIRST LAST`` (one client
process).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _live import (
    ROOT,
    TerminalConnection,
    make_area_tree,
    make_speakers,
    percentile,
    scratch_env,
    start_server,
    stop,
    tone,
)

VILLAGES = int(os.environ.get("BENCH_VILLAGES", "100"))
PER_VILLAGE = int(os.environ.get("BENCH_PER_VILLAGE", "10"))
CLIENT_PROCESSES = 2
WAIT_S = 60


# ---------------------------------------------------------------- the server


def serve() -> None:
    """The app, plus a route that changes every village's orders in one transaction."""
    import uvicorn
    from sqlalchemy import select

    from app.db import session_scope
    from app.main import create_app
    from app.media.models import MediaFile
    from app.playout.models import PlayOrder
    from app.playout.program import bump_program_versions
    from app.runtime.events import on_commit

    app = create_app()

    @app.post("/bench/change", include_in_schema=False)
    def change() -> dict[str, Any]:
        stamp: dict[str, float] = {}
        start = datetime.now(UTC) + timedelta(hours=1)
        with session_scope() as session:
            on_commit(session, lambda: stamp.setdefault("committed_at", time.time()))
            media = session.scalars(select(MediaFile)).first()
            assert media is not None
            item = {"url": media.url, "sha256": media.sha256, "duration_ms": media.duration_ms}
            villages = [f"bv{n:04d}" for n in range(VILLAGES)]
            for village in villages:
                session.add(PlayOrder(
                    kind="routine", village_code=village, start_at=start,
                    not_after=start + timedelta(minutes=16), loop=1, mode="actual", priority=0,
                    title="bench", media=[item], duration_ms=media.duration_ms, state="issued",
                    schedule_id="sch_bench"))
            session.flush()
            bump_program_versions(session, villages)
        return {"committed_at": stamp["committed_at"], "villages": len(villages)}

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["CUNXIANG_PORT"]),
                log_level="warning", backlog=4096)


# ---------------------------------------------------------------- a client process


async def _terminal(url: str, token: str) -> dict[str, Any]:
    # One connection per terminal, as real terminals have.
    host, port = url.removeprefix("http://").split(":")
    connection = TerminalConnection(host, int(port), token)
    _, first = await connection.get("/terminal/v1/program")
    version = json.loads(first)["version"]
    status, body = await connection.get(f"/terminal/v1/program?version={version}&wait={WAIT_S}")
    received = time.time()
    return {"status": status, "received_at": received,
            "changed": status == 200 and json.loads(body)["version"] != version}


async def _clients(url: str, tokens: list[str]) -> list[dict[str, Any]]:
    return await asyncio.gather(*(_terminal(url, t) for t in tokens))


def clients(url: str, token_file: str, first: int, last: int) -> None:
    """Run terminals ``first``..``last`` of the token file; print their results as JSON."""
    tokens = [t for _, t in json.loads(Path(token_file).read_text())[first:last]]
    import uvloop

    print(json.dumps(uvloop.run(_clients(url, tokens))), flush=True)


# ---------------------------------------------------------------- the baseline


async def _bare_fanout(villages: int, per_village: int) -> list[float]:
    events = [asyncio.Event() for _ in range(villages)]
    woke: list[float] = []

    async def waiter(event: asyncio.Event) -> None:
        await event.wait()
        woke.append(time.perf_counter())

    tasks = [asyncio.create_task(waiter(e)) for e in events for _ in range(per_village)]
    await asyncio.sleep(0.1)  # every waiter is waiting
    started = time.perf_counter()
    for event in events:
        event.set()
    await asyncio.gather(*tasks)
    return [(t - started) * 1000 for t in woke]


# ---------------------------------------------------------------- the run


def _waiting(url: str) -> int:
    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith("cunxiang_program_waiters "):
            return int(float(line.split()[1]))
    return 0


def _figures(values: list[float]) -> tuple[float, float, float]:
    return percentile(values, 0.5), percentile(values, 0.99), max(values)


def main() -> int:
    """Set up 1,000 terminals, wake them all, compare with a bare Event fan-out."""
    total = VILLAGES * PER_VILLAGE
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = scratch_env(workdir)
        make_area_tree(VILLAGES)
        tokens = make_speakers([f"bv{n:04d}" for n in range(VILLAGES)], PER_VILLAGE)
        tone(0.5)
        token_file = workdir / "tokens.json"
        token_file.write_text(json.dumps(tokens))
        server, url = start_server(env, [sys.executable, str(Path(__file__)), "--serve"])
        try:
            share = total // CLIENT_PROCESSES
            procs = [subprocess.Popen(
                [sys.executable, str(Path(__file__)), "--clients", url, str(token_file),
                 str(n * share), str((n + 1) * share)], cwd=ROOT, stdout=subprocess.PIPE,
                text=True) for n in range(CLIENT_PROCESSES)]
            deadline = time.monotonic() + 120
            while _waiting(url) < total:
                if time.monotonic() > deadline:
                    print(f"only {_waiting(url)} of {total} terminals are waiting")
                    return 1
                time.sleep(0.2)
            change = httpx.post(url + "/bench/change", timeout=60).json()
            results = []
            for proc in procs:
                out, _ = proc.communicate(timeout=WAIT_S + 60)
                results += json.loads(out)
        finally:
            stop(server)
    changed = [r for r in results if r["changed"]]
    if len(changed) != total:
        print(f"{len(changed)} of {total} terminals saw the change")
        return 1
    woke = [(r["received_at"] - change["committed_at"]) * 1000 for r in changed]
    bare = asyncio.run(_bare_fanout(VILLAGES, PER_VILLAGE))
    (lp50, lp99, lmax), (bp50, bp99, bmax) = _figures(woke), _figures(bare)
    print(f"{total} long-polls ({VILLAGES} villages × {PER_VILLAGE}), one commit changing "
          f"every village, {CLIENT_PROCESSES} client processes")
    print(f"long-poll wake-up   p50 {lp50:9.2f} ms   p99 {lp99:9.2f} ms   max {lmax:9.2f} ms")
    print(f"bare Event fan-out  p50 {bp50:9.3f} ms   p99 {bp99:9.3f} ms   max {bmax:9.3f} ms")
    print(f"ratio long-poll / bare: p50 {lp50 / bp50:,.0f}×   p99 {lp99 / bp99:,.0f}×")
    print(f"last terminal answered {lmax:.0f} ms after the commit "
          f"({total / (lmax / 1000):,.0f} programs/s)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve()
    elif sys.argv[1:2] == ["--clients"]:
        clients(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(main())
