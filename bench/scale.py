"""Benchmark: province scale — 10,000 long-polling terminals on one node, then on two nodes
behind nginx; heartbeat ingest through nginx vs directly; memory and CPU per idle long-poll.

Run from the project root: ``.venv/bin/python bench/scale.py [--terminals 10000]
[--clients 4]``. Everything runs on this machine and is started here: a PostgreSQL server
(``initdb`` in a temporary directory), an S3 server (moto) holding the media, two
``cunxiang serve`` nodes and nginx in front of them (its config as ``deploy/nginx.conf``).
One town holds ``--terminals`` villages with one speaker each; the terminals are a lean
asyncio HTTP/1.1 client (one keep-alive connection each, in ``--clients`` processes).

1. **One node.** All terminals long-poll node A directly (``wait=60``). Its resident memory
   is read before any, after 1,000 and after all of them; then one urgent broadcast (stored
   media) to the town: from the POST until each terminal holds the order (p50/p99/max), and
   the node's CPU time for that fan-out.
2. **Two nodes behind nginx.** The same, every request through nginx (round robin over A
   and B): memory of each node and of nginx, the fan-out, and the CPU of nodes and nginx.
   Then an idle minute's share: the CPU all processes use while the terminals just wait.
3. **Heartbeats.** 1,000 terminals' heartbeats as fast as 64 connections send them, to node
   A directly and then through nginx to both nodes: requests/s, p50/p99.

Figures are printed with the ratio of the two-node run to the single-node run (the
baseline of the same run), and a projection to 130,000 terminals from the measured CPU and
memory per terminal. On a 2-core machine the terminals, nginx, both nodes and PostgreSQL
share the two cores: the fan-out times measure the whole system, not a node.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from _live import (
    ROOT,
    TerminalConnection,
    follow_program,
    make_area_tree,
    make_speakers,
    percentile,
    start_server,
    stop,
    tone,
)

from tests.servers import Nginx, Postgres, S3Server

PROVINCE = 130_000
FANOUT_GOAL_S = 3.0
IDLE_S = 15.0
WAIT_S = 60
CONNECT_SLOTS = 64  # connections each client process opens at once (ramp, no SYN storm)
HEARTBEAT_TERMINALS = 1000


# --- the terminals (client processes) -------------------------------------------------------


async def _first_program(connection: TerminalConnection, slots: asyncio.Semaphore,
                         errors: list[str]) -> int:
    while True:
        try:
            async with slots:
                status, body = await connection.get("/terminal/v1/program")
            if status == 200:
                return int(json.loads(body)["version"])
            errors.append(f"HTTP {status}")
        except (OSError, asyncio.IncompleteReadError) as exc:
            errors.append(repr(exc))
        await asyncio.sleep(0.5)


async def _terminal(host: str, port: int, token: str, slots: asyncio.Semaphore,
                    ready: asyncio.Queue[None], arrivals: dict[str, list[float]],
                    errors: list[str]) -> None:
    """Fetch the program, then long-poll for ever, noting when each broadcast arrives."""
    connection = TerminalConnection(host, port, token)
    version = await _first_program(connection, slots, errors)
    await ready.put(None)
    await follow_program(connection, version, arrivals, errors, WAIT_S)


async def _terminals(url: str, tokens: list[str], pipe: Connection) -> None:
    host, port = url.removeprefix("http://").split(":")
    arrivals: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    ready: asyncio.Queue[None] = asyncio.Queue()
    slots = asyncio.Semaphore(CONNECT_SLOTS)
    tasks = [asyncio.create_task(_terminal(host, int(port), t, slots, ready, arrivals, errors))
             for t in tokens]
    for _ in tokens:
        await ready.get()
    pipe.send("ready")
    while (command := await asyncio.to_thread(pipe.recv)) != "stop":
        pipe.send(len(arrivals.get(command, ())))
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    pipe.send((dict(arrivals), errors))


def client_process(url: str, tokens: list[str], pipe: Connection) -> None:
    """One client process: its share of the terminals, until told to stop."""
    import uvloop

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    uvloop.run(_terminals(url, tokens, pipe))


class Clients:
    """Client processes holding terminals' long-polls against one URL."""

    def __init__(self) -> None:
        self.procs: list[tuple[Any, Connection]] = []

    def add(self, url: str, tokens: list[str], processes: int) -> None:
        """Start ``processes`` more client processes sharing ``tokens``; wait until ready."""
        context = multiprocessing.get_context("spawn")
        started = []
        for index in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=client_process, daemon=True,
                                   args=(url, tokens[index::processes], child))
            proc.start()
            started.append((proc, parent))
        for _, pipe in started:
            if not pipe.poll(300) or pipe.recv() != "ready":
                raise SystemExit("a client process did not get ready")
        self.procs += started

    def holding(self, broadcast: str) -> int:
        """How many terminals hold this broadcast."""
        for _, pipe in self.procs:
            pipe.send(broadcast)
        return sum(pipe.recv() for _, pipe in self.procs)

    def stop(self) -> tuple[dict[str, list[float]], list[str]]:
        """Stop every client process; the arrivals and errors they saw."""
        merged: dict[str, list[float]] = defaultdict(list)
        errors: list[str] = []
        for _, pipe in self.procs:
            pipe.send("stop")
        for proc, pipe in self.procs:
            arrivals, failed = pipe.recv()
            for broadcast, times in arrivals.items():
                merged[broadcast] += times
            errors += failed
            proc.join(30)
        self.procs = []
        return merged, errors

    def kill(self) -> None:
        """Kill what is left (after a failure)."""
        for proc, _ in self.procs:
            proc.kill()
        self.procs = []


# --- measuring processes --------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process, of its children alive now and of those it has reaped
    (PostgreSQL: the postmaster and its backends)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    children = 0.0
    for child in family(pid)[1:]:
        try:
            children += cpu_seconds(child)
        except OSError:  # ended meanwhile
            continue
    return own + children


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def family(pid: int) -> list[int]:
    """A process and its children (nginx: the master and its workers)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                children.append(int(stat.parent.name))
        except (OSError, ValueError):
            continue
    return [pid, *children]


def waiters(url: str) -> float:
    """Long-polls a node holds (its ``cunxiang_program_waiters`` gauge)."""
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("cunxiang_program_waiters "):
            return float(line.split()[1])
    return 0.0


def answers(url: str) -> dict[str, float]:
    """Program requests a node has answered so far, by status."""
    counts: dict[str, float] = defaultdict(float)
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("cunxiang_http_requests_total{") and "/terminal/v1/program" in line:
            status = line.split('status="', 1)[1].split('"', 1)[0]
            counts[status] += float(line.split()[-1])
    return counts


def wait_for_waiters(nodes: list[str], count: int, timeout: float = 300) -> None:
    """Until the nodes together hold ``count`` long-polls."""
    deadline = time.monotonic() + timeout
    while sum(waiters(n) for n in nodes) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {sum(waiters(n) for n in nodes):.0f}/{count} are waiting")
        time.sleep(0.2)


# --- one phase ------------------------------------------------------------------------------


def broadcast(url: str, admin: dict[str, str], media: str) -> tuple[str, float, float]:
    """POST an urgent broadcast to the whole town; (id, wall time sent, answer seconds)."""
    body = {"title": "防汛紧急通知", "level": 1, "targets": ["bt"], "media": media}
    sent, started = time.time(), time.perf_counter()
    answer = httpx.post(f"{url}/api/v1/broadcasts", json=body, timeout=120,
                        headers={**admin, "Idempotency-Key": secrets.token_hex(8)})
    if answer.status_code != 201:
        raise SystemExit(f"broadcast refused: {answer.status_code} {answer.text[:300]}")
    return str(answer.json()["id"]), sent, time.perf_counter() - started


def run_phase(url: str, nodes: list[tuple[int, str]], extra_pids: list[int],
              tokens: list[str], clients_n: int, admin: dict[str, str],
              media: str, postmaster: int) -> dict[str, Any]:
    """Terminals long-poll ``url``; memory by step, one fan-out, then an idle spell."""
    node_urls = [u for _, u in nodes]
    watched = [pid for pid, _ in nodes] + extra_pids
    memory = {"before": {pid: rss_mb(pid) for pid in watched}}

    def cpu_now() -> dict[int, float]:
        return {**{pid: cpu_seconds(pid) for pid in watched},
                postmaster: tree_cpu_seconds(postmaster)}

    clients = Clients()
    try:
        first = min(1000, len(tokens))
        clients.add(url, tokens[:first], 1)
        wait_for_waiters(node_urls, first)
        time.sleep(1)
        memory["1000"] = {pid: rss_mb(pid) for pid in watched}
        if len(tokens) > first:
            clients.add(url, tokens[first:], max(1, clients_n - 1))
        wait_for_waiters(node_urls, len(tokens))
        time.sleep(2)
        memory["all"] = {pid: rss_mb(pid) for pid in watched}

        cpu = cpu_now()
        counted = [answers(u) for u in node_urls]
        sent_id, sent, answered = broadcast(url, admin, media)
        deadline = time.monotonic() + 300
        while clients.holding(sent_id) < len(tokens) and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # their next long-polls are in (not asking the nodes: that costs)
        fanout_cpu = {pid: spent - cpu[pid] for pid, spent in cpu_now().items()}
        fanout_answers = [{k: v - before.get(k, 0) for k, v in answers(u).items()}
                          for u, before in zip(node_urls, counted, strict=True)]
        wait_for_waiters(node_urls, len(tokens))

        time.sleep(2)
        cpu = cpu_now()
        time.sleep(IDLE_S)
        idle_cpu = {pid: spent - cpu[pid] for pid, spent in cpu_now().items()}
        arrivals, errors = clients.stop()
    finally:
        clients.kill()
    return {"memory": memory, "arrivals": [t - sent for t in arrivals[sent_id]],
            "answered": answered, "fanout_cpu": fanout_cpu, "idle_cpu": idle_cpu,
            "errors": errors, "nodes": [pid for pid, _ in nodes], "extra": extra_pids,
            "postmaster": postmaster, "first": first, "answers": fanout_answers}


# --- heartbeats -----------------------------------------------------------------------------


def heartbeat_load(url: str, tokens_file: Path, seconds: float = 6.0) -> dict[str, Any]:
    """bench/heartbeats.py's load generator against ``url``, in its own process."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "heartbeats.py"), "--load", url,
         "/terminal/v1/heartbeat", str(tokens_file), "--seconds", str(seconds)],
        cwd=ROOT, capture_output=True, text=True, check=True)
    figures = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    figures["rate"] = figures["count"] / figures["seconds"]
    return figures


# --- the run --------------------------------------------------------------------------------


def _fanout_line(name: str, seconds: list[float], expected: int, answered: float) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return (f"{name:<28} p50 {percentile(ms, 0.5):7.0f} ms  p99 {percentile(ms, 0.99):7.0f} ms"
            f"  max {ms[-1]:7.0f} ms  reached {len(ms)}/{expected}"
            f"  (POST answered in {answered * 1000:.0f} ms)")


def _per_thousand(phase: dict[str, Any], pid: int, terminals: int) -> float:
    """MB per 1,000 idle long-polls of one node: from its first 1,000 terminals (connections
    and caches warm) to all of them, spread over the phase's nodes."""
    nodes = len(phase["nodes"])
    added = (terminals - phase["first"]) / nodes
    grown = phase["memory"]["all"][pid] - phase["memory"]["1000"][pid]
    return grown / added * 1000 if added > 0 else 0.0


def report(single: dict[str, Any], multi: dict[str, Any], beats: dict[str, dict[str, Any]],
           n: int, nginx_pids: list[int]) -> bool:
    """Print every figure; True if every terminal got both broadcasts."""
    print(f"\n{n} terminals long-polling (wait={WAIT_S} s); one urgent broadcast to all")
    print(_fanout_line("one node, direct", single["arrivals"], n, single["answered"]))
    print(_fanout_line("two nodes behind nginx", multi["arrivals"], n, multi["answered"]))
    one, two = max(single["arrivals"]), max(multi["arrivals"])
    print(f"last terminal: two nodes + nginx {two:.2f} s = {two / one:.2f}x one node"
          f" ({one:.2f} s) on the same 2 cores")
    node_a = single["nodes"][0]
    node_cpu = single["fanout_cpu"][node_a]
    single_db = single["fanout_cpu"][single["postmaster"]]
    multi_node_cpu = sum(multi["fanout_cpu"][p] for p in multi["nodes"])
    lb_cpu = sum(multi["fanout_cpu"][p] for p in nginx_pids)
    db_cpu = multi["fanout_cpu"][multi["postmaster"]]
    for label, phase in (("one node", single), ("two nodes", multi)):
        per_node = ", ".join(
            f"{phase['fanout_cpu'][pid]:.2f} s CPU / "
            + " ".join(f"{int(v)}×{k}" for k, v in sorted(counts.items()) if v)
            for pid, counts in zip(phase["nodes"], phase["answers"], strict=True))
        print(f"  {label}: per node {per_node}")
    print(f"fan-out CPU: one node {node_cpu:.2f} s + PostgreSQL {single_db:.2f} s "
          f"({(node_cpu + single_db) / n * 1000:.3f} ms/terminal); two nodes "
          f"{multi_node_cpu:.2f} s + nginx {lb_cpu:.2f} s + PostgreSQL {db_cpu:.2f} s "
          f"({(multi_node_cpu + lb_cpu + db_cpu) / n * 1000:.3f} ms/terminal)")

    print("\nresident memory (MB)            before   +1,000     +all   per 1,000 idle")
    for label, phase, pid in [("one node", single, node_a),
                              *[(f"node {i + 1} of 2", multi, p)
                                for i, p in enumerate(multi["nodes"])]]:
        mem = phase["memory"]
        print(f"  {label:<28} {mem['before'][pid]:7.0f}  {mem['1000'][pid]:7.0f}  "
              f"{mem['all'][pid]:7.0f}   {_per_thousand(phase, pid, n):6.1f}")
    lb_before = sum(multi["memory"]["before"][p] for p in nginx_pids)
    lb_all = sum(multi["memory"]["all"][p] for p in nginx_pids)
    print(f"  {'nginx (all processes)':<28} {lb_before:7.0f}  {'':7}  {lb_all:7.0f}   "
          f"{(lb_all - lb_before) / n * 1000:6.1f}")
    idle = sum(multi["idle_cpu"][p] for p in multi["nodes"] + nginx_pids)
    idle_db = multi["idle_cpu"][multi["postmaster"]]
    print(f"idle: {n} long-polls waiting cost {idle / IDLE_S * 100:.1f}% of one core in nodes"
          f" + nginx, {idle_db / IDLE_S * 100:.1f}% in PostgreSQL ({IDLE_S:.0f} s measured);"
          f" each is answered 304 once per {WAIT_S} s")

    direct, through = beats["direct"], beats["nginx"]
    print(f"\nheartbeats, {HEARTBEAT_TERMINALS} terminals, 64 connections:")
    for label, fig in (("direct to one node", direct), ("nginx → two nodes", through)):
        print(f"  {label:<22} {fig['rate']:8.0f}/s  p50 {fig['p50_ms']:6.1f} ms  "
              f"p99 {fig['p99_ms']:6.1f} ms  errors {fig['errors']}")
    print(f"  through nginx = {through['rate'] / direct['rate']:.2f}x direct")

    per_terminal_ms = (multi_node_cpu + lb_cpu + db_cpu) / n * 1000
    cores = PROVINCE * per_terminal_ms / 1000 / FANOUT_GOAL_S
    mem_per_node = max(_per_thousand(multi, p, n) for p in multi["nodes"])
    print(f"\nprojection to {PROVINCE:,} terminals (fan-out ≤ {FANOUT_GOAL_S:.0f} s): "
          f"{PROVINCE:,} × {per_terminal_ms:.3f} ms CPU = {PROVINCE * per_terminal_ms / 1000:.0f}"
          f" core-s → {cores:.1f} cores busy for {FANOUT_GOAL_S:.0f} s; "
          f"idle long-polls {mem_per_node:.1f} MB per 1,000 per node "
          f"→ {PROVINCE / 1000 * mem_per_node / 1024:.1f} GB over all nodes")
    errors = single["errors"] + multi["errors"]
    if errors:
        print(f"{len(errors)} failed request(s), retried; first: {errors[0]}")
    reached = len(single["arrivals"]) == n and len(multi["arrivals"]) == n
    print("every terminal reached" if reached else "NOT every terminal reached")
    return reached


def _node_env(pg: Postgres, s3: S3Server, media: Path) -> dict[str, str]:
    return {"CUNXIANG_DATABASE_URL": pg.url, "CUNXIANG_MEDIA_DIR": str(media),
            "CUNXIANG_ADMIN_PASSWORD": "bench-pass-123", "CUNXIANG_SCHEDULER": "false",
            "CUNXIANG_RENDER_WORKERS": "1", "CUNXIANG_SHUTDOWN_GRACE": "2",
            "CUNXIANG_FORWARDED_ALLOW_IPS": "127.0.0.1", **s3.env("media")}


def _populate(env: dict[str, str], terminals: int) -> tuple[list[str], str]:
    """Villages, speakers and a stored tone, written by this process (as a node would)."""
    from app.config import reset_settings
    from app.db import reset_engine
    from app.migrate import upgrade

    os.environ.update(env)
    reset_settings()
    reset_engine()
    upgrade(env["CUNXIANG_DATABASE_URL"])
    villages = make_area_tree(terminals)
    tokens = [token for _, token in make_speakers(villages, 1)]
    return tokens, str(tone(3.0)["sha256"])


def main() -> int:
    """Start everything, run both phases and the heartbeats, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the nodes inherit it

    scratch = tempfile.TemporaryDirectory(prefix="cunxiang-bench-scale-")
    work = Path(scratch.name)
    servers: list[Any] = []
    try:
        pg = Postgres(max_connections=300).start()
        servers.append(pg)
        s3 = S3Server().start()
        servers.append(s3)
        started = time.perf_counter()
        tokens, media = _populate(_node_env(pg, s3, work / "setup"), args.terminals)
        print(f"{args.terminals} villages and terminals set up in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
        nodes = []
        for name in ("a", "b"):
            proc, url = start_server(_node_env(pg, s3, work / name))
            servers.append(proc)
            nodes.append((proc.pid, url))
        admin_token = httpx.post(f"{nodes[0][1]}/api/v1/auth/token", json={
            "username": "admin", "password": "bench-pass-123"}, timeout=30).json()
        admin = {"Authorization": f"Bearer {admin_token['access_token']}"}
        nginx = Nginx([u.removeprefix("http://") for _, u in nodes], workers=2,
                      connections=args.terminals * 2 + 1024).start()
        servers.append(nginx)
        assert nginx.proc is not None
        nginx_pids = [pid for pid in family(nginx.proc.pid)  # not its cache loader, which ends
                      if b"cache" not in Path(f"/proc/{pid}/cmdline").read_bytes()]

        postmaster = pg.postmaster_pid()
        single = run_phase(nodes[0][1], nodes[:1], [], tokens, args.clients, admin, media,
                           postmaster)
        print("one node: done", flush=True)
        multi = run_phase(nginx.url, nodes, nginx_pids, tokens, args.clients, admin, media,
                          postmaster)
        print("two nodes behind nginx: done", flush=True)

        tokens_file = work / "tokens.json"
        tokens_file.write_text(json.dumps(tokens[:HEARTBEAT_TERMINALS]))
        beats = {"direct": heartbeat_load(nodes[0][1], tokens_file),
                 "nginx": heartbeat_load(nginx.url, tokens_file)}
        ok = report(single, multi, beats, args.terminals, nginx_pids)
    finally:
        for server in reversed(servers):
            if isinstance(server, subprocess.Popen):
                stop(server)
            else:
                server.stop()
        scratch.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
