"""Several nodes behind a load balancer: two ``cunxiang serve`` processes on one PostgreSQL
with shared media in an S3 server, nginx in front — all started here, nothing shared with
the rest of the suite.

Shown: a broadcast created on one node reaches terminals long-polling the other at once
(PostgreSQL NOTIFY); audio rendered on one node is fetched through the other (and through
nginx, with ranges); terminals behind nginx spread over both nodes, and when one node is
killed with SIGKILL in the middle of their long-polls they carry on through the other and
miss nothing: every broadcast reaches every terminal, once, and nothing committed is lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, ROOT, LiveServer
from tests.servers import Nginx, Postgres, S3Server, nginx_bin, pg_bin

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(240),
    pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL is not installed"),
    pytest.mark.skipif(nginx_bin() is None, reason="nginx is not installed"),
]

TERMINALS = 12
FANOUT_GOAL_S = 1.0
# A generous bound for a loaded 2-core CI machine: the figures themselves are bench/scale.py's.
DELIVERY_BOUND_S = 10.0


@dataclass
class Cluster:
    """The running cluster: its nodes, the balancer, the bucket and an admin session."""

    pg: Postgres
    nodes: list[LiveServer]
    nginx: Nginx
    s3: S3Server
    media_dirs: list[Path]
    admin: dict[str, str]
    tokens: dict[str, str] = field(default_factory=dict)  # village → terminal token

    def http(self, base: str) -> httpx.Client:
        """A client of one node or of the balancer, logged in as admin."""
        return httpx.Client(base_url=base, headers=self.admin, timeout=30)


def _node_env(pg: Postgres, s3: S3Server, media_dir: Path) -> dict[str, str]:
    return {"CUNXIANG_DATABASE_URL": pg.url, "CUNXIANG_MEDIA_DIR": str(media_dir),
            "CUNXIANG_ADMIN_PASSWORD": ADMIN_PASSWORD, "CUNXIANG_SCHEDULER": "true",
            "CUNXIANG_RENDER_WORKERS": "1", "CUNXIANG_FORWARDED_ALLOW_IPS": "127.0.0.1",
            "CUNXIANG_SHUTDOWN_GRACE": "2",
            **s3.env("media")}


def _login(base: str) -> dict[str, str]:
    answer = httpx.post(f"{base}/api/v1/auth/token",
                        json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _populate(cluster: Cluster) -> None:
    """A district, a town of TERMINALS villages, a speaker in each (through the balancer)."""
    with cluster.http(cluster.nginx.url) as http:
        for code, level, parent in [("d", "district", None), ("t", "town", "d")]:
            answer = http.post("/api/v1/areas", json={"code": code, "name": code, "level": level,
                                                      "parent": parent})
            assert answer.status_code == 201, answer.text
        for n in range(TERMINALS):
            village = f"v{n:02d}"
            answer = http.post("/api/v1/areas", json={"code": village, "name": f"村{n}",
                                                      "level": "village", "parent": "t"})
            assert answer.status_code == 201, answer.text
            speaker = http.post("/api/v1/speakers", json={"serial": f"S{n}", "village": village})
            assert speaker.status_code == 201, speaker.text
            cluster.tokens[village] = speaker.json()["token"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """PostgreSQL + S3 + two nodes + nginx, for this module's tests."""
    from app.migrate import upgrade

    base = tmp_path_factory.mktemp("cluster")
    with Postgres() as pg, S3Server() as s3:
        upgrade(pg.url)
        media_dirs = [base / "node-a", base / "node-b"]
        nodes = [LiveServer(_node_env(pg, s3, d)) for d in media_dirs]
        starters = [threading.Thread(target=node.start, kwargs={"timeout": 120})
                    for node in nodes]
        for starter in starters:
            starter.start()
        for starter in starters:
            starter.join()
        try:
            assert all(n.proc is not None and n.proc.poll() is None for n in nodes)
            with Nginx([f"127.0.0.1:{n.port}" for n in nodes]) as nginx:
                cluster = Cluster(pg, nodes, nginx, s3, media_dirs, _login(nodes[0].url))
                _populate(cluster)
                yield cluster
        finally:
            for node in nodes:
                node.stop()


# --- terminals -------------------------------------------------------------------------------


@dataclass
class Terminal:
    """What one terminal has been given: each order's first arrival, and its failures."""

    village: str
    token: str
    arrived: dict[str, float] = field(default_factory=dict)  # order id → when first held
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: int = 0
    errors: list[str] = field(default_factory=list)

    def holds(self, broadcast: str) -> bool:
        """True once the terminal has an order of this broadcast."""
        return any(o.get("broadcast") == broadcast for o in self.orders.values())

    def arrival(self, broadcast: str) -> float:
        """When the order of this broadcast first reached the terminal."""
        return min(self.arrived[i] for i, o in self.orders.items()
                   if o.get("broadcast") == broadcast)


async def _long_poll(base: str, terminal: Terminal, stop: asyncio.Event) -> None:
    """Fetch the program, then long-poll it as the reference terminal does, until stopped."""
    headers = {"Authorization": f"Bearer {terminal.token}"}
    version: int | None = None
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=40) as http:
        while not stop.is_set():
            params = {"wait": "20"} if version is None else {"wait": "20", "version": version}
            try:
                answer = await http.get("/terminal/v1/program", params=params)
            except httpx.HTTPError as exc:  # the reference terminal retries likewise
                terminal.errors.append(repr(exc))
                await asyncio.sleep(0.2)
                continue
            if answer.status_code == 304:
                continue
            if answer.status_code != 200:
                terminal.errors.append(f"HTTP {answer.status_code}")
                await asyncio.sleep(0.2)
                continue
            program = answer.json()
            version = program["version"]
            terminal.answers += 1
            for order in program["orders"]:
                if order["id"] not in terminal.orders:
                    terminal.arrived[order["id"]] = time.time()
                    terminal.orders[order["id"]] = order


class Fleet:
    """Terminals long-polling in a thread of their own (their own event loop)."""

    def __init__(self, base: str, tokens: dict[str, str]) -> None:
        self.terminals = [Terminal(village, token) for village, token in tokens.items()]
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, args=(base,), daemon=True)

    def _run(self, base: str) -> None:
        async def main() -> None:
            self.stop_event = asyncio.Event()
            polls = [asyncio.create_task(_long_poll(base, t, self.stop_event))
                     for t in self.terminals]
            await self.stop_event.wait()
            for poll in polls:
                poll.cancel()
            await asyncio.gather(*polls, return_exceptions=True)

        self.loop.run_until_complete(main())

    def __enter__(self) -> Fleet:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        while self.stop_event is None and self.thread.is_alive():
            time.sleep(0.01)
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(30)
        self.loop.close()

    def wait_all_hold(self, broadcast: str, timeout: float) -> None:
        """Wait until every terminal holds the broadcast."""
        deadline = time.monotonic() + timeout
        while not all(t.holds(broadcast) for t in self.terminals):
            if time.monotonic() > deadline:
                missing = [t.village for t in self.terminals if not t.holds(broadcast)]
                raise AssertionError(f"{broadcast} did not reach {missing} in {timeout} s")
            time.sleep(0.02)


def _waiters(node: LiveServer) -> float:
    """Long-polls the node holds (its ``cunxiang_program_waiters`` gauge)."""
    text = httpx.get(f"{node.url}/metrics", timeout=10).text
    return next(float(line.split()[1]) for line in text.splitlines()
                if line.startswith("cunxiang_program_waiters "))


def _route_count(node: LiveServer, route: str) -> float:
    text = httpx.get(f"{node.url}/metrics", timeout=10).text
    return sum(float(line.split()[-1]) for line in text.splitlines()
               if line.startswith("cunxiang_http_requests_total{") and f'route="{route}"' in line)


def _wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def _broadcast(http: httpx.Client, key: str, **content: Any) -> tuple[str, float]:
    """POST an urgent broadcast to the whole town; (id, when it was sent)."""
    sent = time.time()
    body = {"title": "紧急通知", "level": 1, "targets": ["t"], **content}
    answer = http.post("/api/v1/broadcasts", json=body, headers={"Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"]), sent


# --- the tests -----------------------------------------------------------------------------


def test_nodes_starting_at_once_on_a_new_database_migrate_one_after_the_other(
    cluster: Cluster,
) -> None:
    assert cluster.pg.bin is not None
    subprocess.run([str(cluster.pg.bin / "createdb"), "-h", "127.0.0.1", "-p",
                    str(cluster.pg.port), "-U", "cunxiang", "fresh"], check=True)
    env = {**os.environ, "CUNXIANG_DATABASE_URL": cluster.pg.url.rsplit("/", 1)[0] + "/fresh"}
    migrations = [subprocess.Popen([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                  for _ in range(2)]
    outputs = [m.communicate(timeout=120)[0].decode() for m in migrations]
    assert [m.returncode for m in migrations] == [0, 0], outputs


def test_a_broadcast_created_on_one_node_is_heard_by_terminals_on_the_other(
    cluster: Cluster,
) -> None:
    node_a, node_b = cluster.nodes
    with Fleet(node_b.url, cluster.tokens) as fleet:
        _wait_for(lambda: _waiters(node_b) >= TERMINALS, 30, "terminals waiting on node B")
        with cluster.http(node_a.url) as http:
            broadcast, sent = _broadcast(http, "cross-node-1", text="请注意，这是跨节点测试。")
        fleet.wait_all_hold(broadcast, DELIVERY_BOUND_S)
    latest = max(t.arrival(broadcast) for t in fleet.terminals) - sent
    assert latest < DELIVERY_BOUND_S
    assert all(not t.errors for t in fleet.terminals), [t.errors for t in fleet.terminals]


def test_audio_rendered_on_one_node_is_fetched_through_the_other_and_the_balancer(
    cluster: Cluster,
) -> None:
    node_a, node_b = cluster.nodes
    with cluster.http(node_a.url) as http:
        broadcast, _ = _broadcast(http, "render-on-a", text="请注意，这段声音在甲节点合成。")
    token = cluster.tokens["v00"]
    program = httpx.get(f"{cluster.nginx.url}/terminal/v1/program",
                        headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    order = next(o for o in program["orders"] if o.get("broadcast") == broadcast)
    item = order["media"][0]
    sha = item["sha256"]
    # The program's media URL is the balancer's: what terminals reach.
    assert item["url"].startswith(cluster.nginx.url + "/media/"), item["url"]
    copy_a = cluster.media_dirs[0] / sha[:2] / f"{sha}.mp3"
    copy_b = cluster.media_dirs[1] / sha[:2] / f"{sha}.mp3"
    assert copy_a.exists() and not copy_b.exists()  # rendered on A; B never had it

    from_b = httpx.get(f"{node_b.url}/media/{sha}", timeout=30)
    assert from_b.status_code == 200 and hashlib.sha256(from_b.content).hexdigest() == sha
    assert copy_b.read_bytes() == from_b.content  # B fetched it from the object store
    through_lb = httpx.get(item["url"], headers={"Range": "bytes=0-99"}, timeout=30)
    assert through_lb.status_code == 206 and through_lb.content == from_b.content[:100]
    keys = [o["Key"] for o in cluster.s3.client().list_objects_v2(
        Bucket=cluster.s3.bucket, Prefix="media/").get("Contents", [])]
    assert f"media/{sha[:2]}/{sha}.mp3" in keys


def test_terminals_behind_nginx_spread_over_nodes_and_miss_nothing_when_one_is_killed(
    cluster: Cluster,
) -> None:
    node_a, node_b = cluster.nodes
    lb = cluster.http(cluster.nginx.url)
    for village, token in cluster.tokens.items():  # heartbeats, through the balancer
        beat = httpx.post(f"{cluster.nginx.url}/terminal/v1/heartbeat",
                          json={"status": "ok", "power": "mains"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert beat.status_code in (200, 204), (village, beat.text)
    assert _route_count(node_a, "/terminal/v1/heartbeat") > 0
    assert _route_count(node_b, "/terminal/v1/heartbeat") > 0
    _wait_for(lambda: lb.get("/api/v1/speakers", params={"status": "online"}).json()["total"]
              == TERMINALS, 10, "every speaker online")

    with Fleet(cluster.nginx.url, cluster.tokens) as fleet:
        waiting = _wait_for(
            lambda: (w := (_waiters(node_a), _waiters(node_b)))[0] + w[1] >= TERMINALS and w,
            30, "terminals waiting through nginx")
        assert min(waiting) > 0, f"long-polls not spread over the nodes: {waiting}"
        before, sent_before = _broadcast(lb, "before-kill", text="请注意，第一次通知。")
        fleet.wait_all_hold(before, DELIVERY_BOUND_S)
        receipts = [{"order": next(i for i, o in t.orders.items() if o.get("broadcast") == before),
                     "event": "started", "at": datetime.now(UTC).isoformat()}
                    for t in fleet.terminals]
        for terminal, receipt in zip(fleet.terminals, receipts, strict=True):
            answer = httpx.post(f"{cluster.nginx.url}/terminal/v1/receipts", json=[receipt],
                                headers={"Authorization": f"Bearer {terminal.token}"},
                                timeout=30)
            assert answer.status_code == 200, answer.text
        _wait_for(lambda: _waiters(node_a) + _waiters(node_b) >= TERMINALS, 10, "polling again")
        answers_before = sum(t.answers for t in fleet.terminals)

        assert node_a.proc is not None
        node_a.proc.kill()  # SIGKILL, in the middle of its terminals' long-polls
        node_a.proc.wait(10)
        after, sent_after = _broadcast(lb, "after-kill", text="请注意，第二次通知。")
        fleet.wait_all_hold(after, DELIVERY_BOUND_S)

    for terminal in fleet.terminals:  # every broadcast once, the one before kept as it was
        broadcasts = [o.get("broadcast") for o in terminal.orders.values() if o.get("broadcast")]
        assert sorted(b for b in broadcasts if b in (before, after)) == sorted([before, after])
    latest = max(t.arrival(after) for t in fleet.terminals) - sent_after
    first = max(t.arrival(before) for t in fleet.terminals) - sent_before
    assert latest < DELIVERY_BOUND_S and first < DELIVERY_BOUND_S
    assert sum(t.answers for t in fleet.terminals) >= answers_before + TERMINALS

    # Nothing committed before the kill is lost: both broadcasts, all their orders, receipts.
    for broadcast in (before, after):
        shown = lb.get(f"/api/v1/broadcasts/{broadcast}").json()
        assert len(shown["villages"]) == TERMINALS
    states = {v["code"]: v["state"] for v in lb.get(f"/api/v1/broadcasts/{before}").json()[
        "villages"]}
    assert set(states.values()) == {"playing"}, states
    log = lb.get("/api/v1/playlog", params={"village": "v00"}).json()
    assert any(row["broadcast"] == before and row["result"] == "started" for row in log["items"])
    lb.close()
