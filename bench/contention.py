"""Benchmark: an urgent broadcast while a big write runs, against the same broadcast on an idle
server, in the same run.

Run from the project root: ``.venv/bin/python bench/contention.py [--rows 100000]
[--villages 16000]``. A real server (``cunxiang serve``) on a scratch database holds a
district of ``--villages`` villages (100 per town) with one schedule over all of them (three
times a day, so 3 orders per village within the 24 h horizon). Level-I broadcasts (a stored
MP3, to one town of that district: 100 villages) are sent one after another, half a second
apart:

- on the idle server (the baseline);
- while a ``--rows``-line CSV import of a new district runs (``POST /api/v1/areas/import``,
  202, polled until done): the import's own time is printed too;
- while a ``PATCH`` of the schedule's times re-issues the orders of every village.

For each: the urgent POSTs' answer time (median, p99, max), how many did not answer 201,
and max / idle median. Goal: no urgent POST answered other than 201, none waited more than
about 1 s longer than on the idle server; 100,000 lines imported well under a minute.

Set ``CUNXIANG_BENCH_DATABASE_URL`` to an empty PostgreSQL database to run on it.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from _live import percentile, scratch_env, start_server, stop, tone

URGENT_GOAL_S = 1.0
IMPORT_GOAL_S = 60.0
TIMES = ["07:00", "12:00", "18:30"]
NEW_TIMES = ["07:30", "12:30", "19:00"]


def _build(villages: int) -> str:
    """The scheduled district (``bd``: towns ``bt000``… of 100 villages); the schedule's id."""
    from sqlalchemy import insert

    from app.areas.models import Area
    from app.auth.permissions import SYSTEM
    from app.db import session_scope
    from app.playlists.schemas import PlaylistCreate
    from app.playlists.service import create_playlist
    from app.schedules.schemas import ScheduleCreate
    from app.schedules.service import create_schedule

    rows = [{"code": "bd", "name": "基准区", "level": "district", "parent_code": None,
             "path": "bd"}]
    for t in range(max(1, villages // 100)):
        town = f"bt{t:03d}"
        rows.append({"code": town, "name": f"镇{t}", "level": "town", "parent_code": "bd",
                     "path": f"bd/{town}"})
        rows += [{"code": f"{town}v{v:02d}", "name": f"村{t}-{v}", "level": "village",
                  "parent_code": town, "path": f"bd/{town}/{town}v{v:02d}"}
                 for v in range(100)]
    with session_scope() as session:
        session.execute(insert(Area), rows)
    with session_scope() as session:
        playlist = create_playlist(session=session, principal=SYSTEM, data=PlaylistCreate(
            name="基准节目", area="bd", items=[{"silence_ms": 60_000}], chime=None, gap_ms=0))
        playlist_id = playlist.id
    with session_scope() as session:  # its orders are issued in chunks once this commits
        schedule = create_schedule(session=session, principal=SYSTEM, data=ScheduleCreate(
            name="全区", playlist=playlist_id, targets=["bd"], times=TIMES))
        return schedule.id


def _csv(rows: int) -> bytes:
    """A new district ``nd``: a town per 200 villages."""
    towns = max(1, rows // 200)
    lines = ["code,name,level,parent", "nd,新区,district,"]
    lines += [f"nt{t:04d},新镇{t},town,nd" for t in range(towns)]
    lines += [f"nv{v:06d},新村{v},village,nt{v % towns:04d}" for v in range(rows - towns - 1)]
    return ("\n".join(lines) + "\n").encode()


class Urgent:
    """Level-I broadcasts sent one after another until stopped; their answer times."""

    def __init__(self, url: str, admin: dict[str, str], sha256: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        self.admin, self.sha256 = admin, sha256
        self.times: list[float] = []
        self.failures: list[str] = []

    def send(self) -> None:
        """One broadcast; its answer time is recorded."""
        body = {"title": "紧急通知", "level": 1, "targets": ["bt000"], "media": self.sha256}
        started = time.perf_counter()
        answer = self.http.post("/api/v1/broadcasts", json=body, headers={
            **self.admin, "Idempotency-Key": secrets.token_hex(8)})
        self.times.append(time.perf_counter() - started)
        if answer.status_code != 201:
            self.failures.append(f"{answer.status_code} {answer.text[:120]}")

    def during(self, work: threading.Thread, gap_s: float = 0.5) -> None:
        """Send broadcasts until ``work`` ends."""
        while work.is_alive():
            self.send()
            time.sleep(gap_s)


def _summary(label: str, times: list[float], failures: list[str], idle: float) -> bool:
    worst = max(times)
    print(f"[{label}] {len(times)} urgent POSTs: median {statistics.median(times) * 1000:.0f} ms, "
          f"p99 {percentile(times, 0.99) * 1000:.0f} ms, max {worst * 1000:.0f} ms "
          f"({worst / idle:.1f}× the idle median); not 201: {len(failures)}")
    for failure in failures[:3]:
        print(f"    {failure}")
    return not failures and worst - idle <= URGENT_GOAL_S


def _import(http: httpx.Client, admin: dict[str, str], rows: int,
            outcome: dict[str, Any]) -> None:
    started = time.perf_counter()
    answer = http.post("/api/v1/areas/import", content=_csv(rows),
                       headers={**admin, "Content-Type": "text/csv"})
    if answer.status_code not in (200, 202):
        raise SystemExit(f"the import answered {answer.status_code}: {answer.text[:300]}")
    state = answer.json()
    while state.get("status", "done") == "running":
        time.sleep(0.2)
        state = http.get(answer.headers["location"], headers=admin).json()
    outcome.update(state, seconds=time.perf_counter() - started)


def _patch(http: httpx.Client, admin: dict[str, str], schedule: str,
           outcome: dict[str, Any]) -> None:
    started = time.perf_counter()
    answer = http.patch(f"/api/v1/schedules/{schedule}", json={"times": NEW_TIMES},
                        headers=admin)
    outcome.update(status=answer.status_code, seconds=time.perf_counter() - started)


def _run_during(urgent: Urgent, work: Any, *args: Any) -> tuple[list[float], list[str]]:
    urgent.times, urgent.failures = [], []
    thread = threading.Thread(target=work, args=args)
    thread.start()
    time.sleep(0.3)
    urgent.during(thread)
    thread.join()
    return urgent.times, urgent.failures


def main() -> int:
    """Build the district, start a server, measure idle, during an import, during a PATCH."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--villages", type=int, default=16_000)
    parser.add_argument("--idle", type=int, default=20, help="urgent POSTs on the idle server")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="cunxiang-bench-contention-")
    env = scratch_env(Path(scratch.name))
    built = time.perf_counter()
    schedule = _build(args.villages)
    media = tone(2.0)
    print(f"set-up: {args.villages:,} scheduled villages in {time.perf_counter() - built:.1f} s")
    proc, url = start_server(env)
    ok = True
    try:
        http = httpx.Client(base_url=url, timeout=600)
        token = http.post("/api/v1/auth/token", json={
            "username": "admin", "password": env["CUNXIANG_ADMIN_PASSWORD"]}).json()
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        urgent = Urgent(url, admin, media["sha256"])
        for _ in range(3):  # warm-up: the first requests load code and fill caches
            urgent.send()
        urgent.times, urgent.failures = [], []
        for _ in range(args.idle):
            urgent.send()
            time.sleep(0.05)
        idle = statistics.median(urgent.times)
        ok &= _summary("idle server", urgent.times, urgent.failures, idle)

        imported: dict[str, Any] = {}
        times, failures = _run_during(urgent, _import, http, admin, args.rows, imported)
        ok &= _summary(f"during a {args.rows:,}-line import", times, failures, idle)
        fast = imported.get("status") == "done" and imported["seconds"] <= IMPORT_GOAL_S
        ok &= fast
        print(f"[import] {args.rows:,} lines: {imported.get('status')} in "
              f"{imported['seconds']:.1f} s, created {imported.get('created')} "
              f"(goal ≤ {IMPORT_GOAL_S:.0f} s) — {'OK' if fast else 'OVER GOAL'}")

        patched: dict[str, Any] = {}
        times, failures = _run_during(urgent, _patch, http, admin, schedule, patched)
        ok &= _summary(f"during a PATCH over {args.villages:,} villages", times, failures, idle)
        print(f"[patch] answered {patched['status']} in {patched['seconds']:.1f} s")
    finally:
        stop(proc)
        scratch.cleanup()
    print("contention:", "OK" if ok else "OVER GOAL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
