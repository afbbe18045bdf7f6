"""Benchmark: heartbeat throughput of one server process, and outage detection delay.

Run from the project root: ``.venv/bin/python bench/heartbeats.py``.

1. **Throughput.** One ``cunxiang serve`` process (scheduler and sweep running) takes
   ``POST /terminal/v1/heartbeat`` from 1,000 registered terminals; a load generator in a
   separate process (a small asyncio HTTP/1.1 client, ``CONNECTIONS`` keep-alive
   connections) sends as many as it can for ``SECONDS``. The same generator then loads a
   bare FastAPI endpoint answering ``{}``, served by uvicorn the same way (one process,
   same defaults). Printed: requests/s of each, the ratio (goal ≥ 0.5), p50/p99 latency.
2. **Detection delay.** 10,000 speakers in 1,000 villages all fall silent at the same
   instant; the sweep runs every second as the leader job does, on the real clock, with
   ``CUNXIANG_HEARTBEAT_TIMEOUT`` = 5 s. Printed: from the last heartbeat to the outages
   being committed (and how much of that is beyond the timeout), the sweep's cost in the
   steady state, and the cost of opening the 10,000 tickets once the grace period ends.

The database is a fresh SQLite file, or the empty database in ``CUNXIANG_BENCH_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _live import (
    ROOT,
    free_port,
    make_area_tree,
    make_speakers,
    percentile,
    scratch_env,
    start_server,
    stop,
)

CONNECTIONS = 64
SECONDS = 8.0
WARMUP = 2.0
TERMINALS = (100, 10)  # villages × speakers per village
GOAL_RATIO = 0.5
SILENT = (1000, 10)  # 10,000 speakers for the detection delay
TIMEOUT_S = 5


# ---------------------------------------------------------------- the load generator


def _request(host: str, path: str, token: str | None, body: bytes) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _connection(host: str, port: int, requests: list[bytes], stop_at: float,
                      measure_from: float, latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = 0
    try:
        while (now := time.perf_counter()) < stop_at:
            writer.write(requests[index % len(requests)])
            index += 1
            status = await _read_response(reader)
            done = time.perf_counter()
            if now >= measure_from:
                latencies.append(done - now)
                if status != 200:
                    errors.append(status)
    finally:
        writer.close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(line.split(":", 1)[1]) for line in lines
                   if line.lower().startswith("content-length:")), 0)
    if length:
        await reader.readexactly(length)
    return status


async def _load(url: str, path: str, tokens: list[str], connections: int,
                seconds: float) -> dict[str, Any]:
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps({"status": "ok", "power": "mains", "volume": 80}).encode()
    requests = [_request(f"{host}:{port}", path, t, body) for t in (tokens or [""])]
    start = time.perf_counter()
    measure_from, stop_at = start + WARMUP, start + WARMUP + seconds
    latencies: list[float] = []
    errors: list[int] = []
    # Each connection starts at a different terminal so that all of them beat.
    await asyncio.gather(*(
        _connection(host, int(port), requests[i * len(requests) // connections:]
                    + requests[:i * len(requests) // connections], stop_at, measure_from,
                    latencies, errors) for i in range(connections)))
    return {"count": len(latencies), "seconds": seconds, "errors": len(errors),
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000}


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_generator(url: str, path: str, tokens_file: Path, server_pid: int,
                   seconds: float = SECONDS) -> dict[str, Any]:
    """Run the load generator in its own process; its figures and the server's CPU time."""
    cpu = _cpu_seconds(server_pid)
    result = subprocess.run(
        [sys.executable, __file__, "--load", url, path, str(tokens_file), "--seconds",
         str(seconds)], cwd=ROOT, capture_output=True, text=True, check=True)
    figures = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    # Warm-up requests are not counted but cost CPU too: scale by the measured share.
    share = seconds / (seconds + WARMUP)
    figures["cpu_ms"] = (_cpu_seconds(server_pid) - cpu) * share * 1000 / max(figures["count"], 1)
    return figures


def _prime(url: str, tokens: list[str]) -> None:
    """Every terminal beats once, and the server settles: all come online at start-up once,
    a burst of health transitions that is not the sustained load being measured."""
    import httpx

    with httpx.Client(base_url=url, timeout=30) as client:
        for token in tokens:
            client.post("/terminal/v1/heartbeat", json={"status": "ok", "power": "mains"},
                        headers={"Authorization": f"Bearer {token}"})
    deadline = time.monotonic() + 60
    while _online(url) < len(tokens) and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3)  # the health sweep announces the transitions


# ---------------------------------------------------------------- 1. throughput


def _online(url: str) -> int:
    import httpx

    admin = httpx.post(url + "/api/v1/auth/token", json={
        "username": "admin", "password": "bench-pass-123"}).json()["access_token"]
    answer = httpx.get(url + "/api/v1/speakers", params={"status": "online", "limit": 1},
                       headers={"Authorization": f"Bearer {admin}"})
    return int(answer.json()["total"])


def throughput(workdir: Path) -> float:
    """Heartbeats/s against a bare endpoint's requests/s; returns the ratio."""
    env = scratch_env(workdir)
    villages = make_area_tree(TERMINALS[0])
    tokens = [token for _, token in make_speakers(villages, TERMINALS[1])]
    tokens_file = workdir / "tokens.json"
    tokens_file.write_text(json.dumps(tokens))
    server, url = start_server({**env, "CUNXIANG_SCHEDULER": os.environ.get(
        "BENCH_SCHEDULER", "true")})
    bare, bare_url = start_server(env, [sys.executable, "-m", "uvicorn", "bench._bare_app:app",
                                        "--host", "127.0.0.1", "--port", str(port := free_port()),
                                        "--log-level", "warning"], port=port)
    try:
        _prime(url, tokens)
        beats = _run_generator(url, "/terminal/v1/heartbeat", tokens_file, server.pid)
        empty = _run_generator(bare_url, "/bare", workdir / "none.json", bare.pid)
        time.sleep(1.5)  # let the last batch reach the database
        online = _online(url)
    finally:
        stop(server)
        stop(bare)
    rates = {name: r["count"] / r["seconds"] for name, r in (("beats", beats), ("bare", empty))}
    ratio = rates["beats"] / rates["bare"]
    for label, name, figures in (("heartbeats", "beats", beats), ("bare {}   ", "bare", empty)):
        print(f"{label} : {rates[name]:8.0f} req/s  p50 {figures['p50_ms']:6.1f} ms  "
              f"p99 {figures['p99_ms']:6.1f} ms  server CPU {figures['cpu_ms']:5.2f} ms/req  "
              f"errors {figures['errors']}")
    print(f"ratio      : {ratio:.2f} of the bare endpoint (goal >= {GOAL_RATIO})  "
          f"[{CONNECTIONS} connections, {SECONDS:.0f} s, {len(tokens)} terminals, "
          f"{online} online afterwards]")
    return ratio


# ---------------------------------------------------------------- 2. detection delay


def _silent_fleet(villages: list[str], per_village: int, heard: datetime) -> int:
    from sqlalchemy import insert

    from app.db import session_scope
    from app.speakers.models import Speaker

    rows = [{"id": f"spk_bench{v}_{n}", "serial": f"{v}-{n}", "village_code": v,
             "maintenance": False, "created_at": heard, "updated_at": heard,
             "last_heard_at": heard, "last_reported_at": heard, "last_status": "ok",
             "last_power": "mains", "health": "online"}
            for v in villages for n in range(per_village)]
    with session_scope() as session:
        session.execute(insert(Speaker), rows)
    return len(rows)


def _timed(step: Any, **kwargs: Any) -> tuple[Any, float]:
    from app.db import session_scope

    started = time.perf_counter()
    with session_scope() as session:
        result = step(session, **kwargs)
    return result, time.perf_counter() - started


def _timed_sweep() -> float:
    from app.maintenance.sweep import sweep

    started = time.perf_counter()
    sweep()
    return time.perf_counter() - started


def detection(workdir: Path) -> float:
    """10,000 speakers silent at once: seconds from their last heartbeat to their outages."""
    os.environ["CUNXIANG_HEARTBEAT_TIMEOUT"] = str(TIMEOUT_S)
    os.environ["CUNXIANG_TICKET_GRACE"] = "3"
    scratch_env(workdir)
    from app.maintenance import sweep as sweeps

    villages = [f"bv{n:04d}" for n in range(SILENT[0])]
    make_area_tree(SILENT[0])
    heard = datetime.now(UTC)
    count = _silent_fleet(villages, SILENT[1], heard)
    steady = min(_timed_sweep() for _ in range(3))  # all healthy: nothing to do
    opened, committed, runs = 0, heard, 0
    while opened < count:  # the leader job: one whole sweep a second on the real clock
        time.sleep(1 - (time.time() % 1))
        runs += 1
        opened += sweeps.sweep().outages_opened
        committed = datetime.now(UTC)  # conservative: after the sweep's last step
    delay = (committed - heard).total_seconds()
    time.sleep(3)
    tickets, ticket_s = _timed(sweeps.open_due_tickets, now=datetime.now(UTC))
    idle = min(_timed_sweep() for _ in range(3))  # 10,000 open: nothing new
    print(f"detection  : {count} speakers silent at once -> {opened} outages committed "
          f"{delay:.2f} s after the last heartbeat (timeout {TIMEOUT_S} s: "
          f"{delay - TIMEOUT_S:.2f} s beyond it; goal <= 10 s beyond) in {runs} sweep(s)")
    print(f"sweep cost : {steady * 1000:.0f} ms with {count} healthy speakers, "
          f"{idle * 1000:.0f} ms with {count} open tickets; {tickets} tickets opened in "
          f"{ticket_s:.2f} s once the grace period ended")
    return delay - TIMEOUT_S


def main(parts: list[str]) -> int:
    """The parts asked for (default both), each on its own scratch database."""
    ratio, beyond = 1.0, 0.0
    if "throughput" in parts:
        with tempfile.TemporaryDirectory() as one:
            ratio = throughput(Path(one))
    if "detection" in parts:
        with tempfile.TemporaryDirectory() as two:
            beyond = detection(Path(two))
    return 0 if ratio > 0 and beyond >= 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("parts", nargs="*", help="throughput and/or detection (default both)")
    parser.add_argument("--load", nargs=3, metavar=("URL", "PATH", "TOKENS"))
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args()
    if args.load:
        url, path, tokens_path = args.load
        tokens = json.loads(Path(tokens_path).read_text()) if Path(tokens_path).exists() else []
        print(json.dumps(asyncio.run(_load(url, path, tokens, CONNECTIONS, args.seconds))))
        sys.exit(0)
    sys.exit(main(args.parts or ["throughput", "detection"]))
