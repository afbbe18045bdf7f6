"""Benchmark: one urgent broadcast to 1,000 long-polling terminals, from the POST to the last one.

Run from the project root: ``.venv/bin/python bench/urgent.py [--terminals 1000]
[--clients 2]``. A real server (``cunxiang serve``) on a scratch database holds 1,000
villages with one speaker each; 1,000 terminals (a minimal asyncio HTTP/1.1 client, one
keep-alive connection each, in a few client processes) long-poll
``GET /terminal/v1/program``. One ``POST /api/v1/broadcasts`` to the town of all 1,000
villages then goes out twice:

- with **media**: a stored, pre-rendered MP3;
- with **text**: 200 characters never synthesised before, rendered during the request.

For each, the time from sending the POST until each terminal has the order in its hands
(p50, p99, max), and the POST's own answer time. The baseline, measured in the same run,
is a bare ``asyncio.Event`` set once for 1,000 waiting tasks. Goals: every terminal
within 1 s with media, within 3 s with text.

Set ``CUNXIANG_BENCH_DATABASE_URL`` to an empty PostgreSQL database to run on it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from _live import (
    TerminalConnection,
    follow_program,
    make_area_tree,
    make_speakers,
    percentile,
    scratch_env,
    start_server,
    stop,
    tone,
)

MEDIA_GOAL_S = 1.0
TEXT_GOAL_S = 3.0
TEXT_CHARS = 200
# Words to make a text nobody synthesised before (the render cache would answer otherwise).
_WORDS = "请各位村民注意防汛防台风做好准备及时转移到安全地带不要靠近河道山塘水库"


# --- the terminals (client processes) ---------------------------------------------------


async def _terminal(
    url: str,
    token: str,
    ready: asyncio.Queue[None],
    arrivals: dict[str, list[float]],
    errors: list[str],
) -> None:
    """Fetch the program once, then long-poll forever, noting when each broadcast arrives."""
    host, port = url.removeprefix("http://").split(":")
    connection = TerminalConnection(host, int(port), token)
    status, body = await connection.get("/terminal/v1/program")
    if status != 200:
        raise SystemExit(f"the first program fetch answered {status}: {body[:200]!r}")
    await ready.put(None)
    await follow_program(connection, json.loads(body)["version"], arrivals, errors)


async def _terminals(url: str, tokens: list[str], pipe: Connection) -> None:
    arrivals: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    ready: asyncio.Queue[None] = asyncio.Queue()
    tasks = [asyncio.create_task(_terminal(url, token, ready, arrivals, errors))
             for token in tokens]
    for _ in tokens:
        await ready.get()
    pipe.send("ready")
    while (command := await asyncio.to_thread(pipe.recv)) != "stop":
        pipe.send(len(arrivals.get(command, ())))  # how many terminals have this broadcast
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send((dict(arrivals), errors))


def client_process(url: str, tokens: list[str], pipe: Connection) -> None:
    """One client process: its share of the terminals, until told to stop."""
    import uvloop

    uvloop.run(_terminals(url, tokens, pipe))


# --- the run ---------------------------------------------------------------------------------


def _waiters(http: httpx.Client) -> float:
    """How many long-polls the server holds (its ``cunxiang_program_waiters`` gauge)."""
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("cunxiang_program_waiters "):
            return float(line.split()[1])
    return 0.0


def _wait_for_waiters(http: httpx.Client, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _waiters(http) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {_waiters(http):.0f} of {count} terminals are waiting")
        time.sleep(0.1)


def _broadcast(
    http: httpx.Client, admin: dict[str, str], content: dict[str, str]
) -> tuple[str, float, float]:
    """POST the broadcast; its id, the wall time it was sent and its answer time in seconds."""
    body = {"title": "防汛紧急通知", "level": 2, "targets": ["bt"], **content}
    sent = time.time()
    started = time.perf_counter()
    response = http.post(
        "/api/v1/broadcasts", json=body, headers={**admin, "Idempotency-Key": secrets.token_hex(8)}
    )
    answered = time.perf_counter() - started
    if response.status_code != 201:
        raise SystemExit(f"broadcast refused: {response.status_code} {response.text[:300]}")
    return str(response.json()["id"]), sent, answered


def _fresh_text() -> str:
    """200 characters of Chinese that have never been synthesised (a random walk over words)."""
    pieces = []
    while sum(map(len, pieces)) < TEXT_CHARS - 1:
        start = secrets.randbelow(len(_WORDS) - 8)
        pieces.append(_WORDS[start : start + 4 + secrets.randbelow(5)] + "，")
    return "".join(pieces)[: TEXT_CHARS - 1] + "。"


def _baseline(waiters: int, rounds: int = 5) -> list[float]:
    """Seconds until each of ``waiters`` tasks resumes after one ``Event.set()`` (the round
    whose last waiter resumed first: a stray garbage collection is not the floor)."""
    return min((_baseline_round(waiters) for _ in range(rounds)), key=max)


def _baseline_round(waiters: int) -> list[float]:

    async def run() -> list[float]:
        event, woke = asyncio.Event(), []

        async def waiter() -> None:
            await event.wait()
            woke.append(time.perf_counter())

        tasks = [asyncio.create_task(waiter()) for _ in range(waiters)]
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        event.set()
        await asyncio.gather(*tasks)
        return [w - started for w in woke]

    return asyncio.run(run())


def _line(name: str, seconds: list[float], expected: int) -> str:
    ms = [s * 1000 for s in seconds]
    return (
        f"{name:<26} p50 {percentile(ms, 0.5):8.1f} ms   p99 {percentile(ms, 0.99):8.1f} ms"
        f"   max {max(ms):8.1f} ms   reached {len(ms)}/{expected}"
    )


def _start_clients(url: str, tokens: list[str], processes: int) -> list[tuple[Any, Connection]]:
    context = multiprocessing.get_context("spawn")
    clients = []
    for index in range(processes):
        parent, child = context.Pipe()
        proc = context.Process(
            target=client_process, args=(url, tokens[index::processes], child), daemon=True
        )
        proc.start()
        clients.append((proc, parent))
    for _, pipe in clients:
        if not pipe.poll(180) or pipe.recv() != "ready":
            raise SystemExit("a client process did not get ready")
    return clients


def _stop_clients(
    clients: list[tuple[Any, Connection]],
) -> tuple[dict[str, list[float]], list[str]]:
    merged: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    for _, pipe in clients:
        pipe.send("stop")
    for proc, pipe in clients:
        arrivals, failed = pipe.recv()
        for broadcast, times in arrivals.items():
            merged[broadcast] += times
        errors += failed
        proc.join(30)
    return merged, errors


def _until_received(
    http: httpx.Client, clients: list[tuple[Any, Connection]], broadcast: str, count: int
) -> None:
    """Wait until every terminal has the broadcast (asking the clients, not the server)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for _, pipe in clients:
            pipe.send(broadcast)
        if sum(pipe.recv() for _, pipe in clients) >= count:
            break
        time.sleep(0.05)
    _wait_for_waiters(http, count)  # … and is long-polling again


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    """Set up 1,000 villages and terminals, broadcast with media then with text, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="cunxiang-bench-urgent-")
    workdir = Path(scratch.name)
    env = scratch_env(workdir)
    villages = make_area_tree(args.terminals)
    tokens = [token for _, token in make_speakers(villages, 1)]
    media = tone(3.0)
    proc, url = start_server(env)
    clients: list[tuple[Any, Connection]] = []
    try:
        http = httpx.Client(base_url=url, timeout=120)
        answer = http.post(
            "/api/v1/auth/token",
            json={"username": "admin", "password": env["CUNXIANG_ADMIN_PASSWORD"]},
        )
        admin = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        clients = _start_clients(url, tokens, args.clients)
        _wait_for_waiters(http, args.terminals)

        cpu = _cpu_seconds(proc.pid)
        with_media, media_sent, media_answer = _broadcast(http, admin, {"media": media["sha256"]})
        _until_received(http, clients, with_media, args.terminals)
        media_cpu, cpu = _cpu_seconds(proc.pid) - cpu, _cpu_seconds(proc.pid)
        text = _fresh_text()
        with_text, text_sent, text_answer = _broadcast(http, admin, {"text": text})
        _until_received(http, clients, with_text, args.terminals)
        text_cpu = _cpu_seconds(proc.pid) - cpu
        arrivals, errors = _stop_clients(clients)
        clients = []
    finally:
        for client, _ in clients:
            client.kill()
        stop(proc)
        scratch.cleanup()

    baseline = _baseline(args.terminals)
    media_s = [t - media_sent for t in arrivals[with_media]]
    text_s = [t - text_sent for t in arrivals[with_text]]
    n = args.terminals
    print(
        f"{n} terminals long-polling in {args.clients} client processes; one POST to {n} villages"
    )
    print(_line("baseline asyncio.Event", baseline, n))
    print(
        _line("urgent, stored media", media_s, n)
        + f"   (POST answered in {media_answer * 1000:.0f} ms)"
    )
    per_terminal = f"{media_cpu / n * 1000:.1f} ms per terminal"
    print(f"{'':<26} server CPU {media_cpu:.2f} s for the fan-out ({per_terminal})")
    print(
        _line(f"urgent, {len(text)}-char text", text_s, n)
        + f"   (POST answered in {text_answer * 1000:.0f} ms)"
    )
    print(f"{'':<26} server CPU {text_cpu:.2f} s, synthesis included")
    base_max = max(baseline)
    print(
        f"media: last terminal at {max(media_s):.3f} s = "
        f"{max(media_s) / MEDIA_GOAL_S:.2f}x the 1 s goal, "
        f"{max(media_s) / base_max:,.0f}x the bare fan-out"
    )
    print(
        f"text:  last terminal at {max(text_s):.3f} s = "
        f"{max(text_s) / TEXT_GOAL_S:.2f}x the 3 s goal, "
        f"{max(text_s) / base_max:,.0f}x the bare fan-out"
    )
    if errors:
        print(f"{len(errors)} failed long-poll(s), retried; first: {errors[0]}")
    reached = len(media_s) == n and len(text_s) == n
    met = reached and max(media_s) <= MEDIA_GOAL_S and max(text_s) <= TEXT_GOAL_S
    print("goals met" if met else "goals NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
