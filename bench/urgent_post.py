"""Benchmark: the answer time of one urgent broadcast's POST to 1,000 … 15,000 villages,
against a bare executemany INSERT of the same order rows, on SQLite and PostgreSQL.

Run from the project root: ``.venv/bin/python bench/urgent_post.py [--rounds 3]
[--sizes 1000,5000,10000,15000]``. A real server (``cunxiang serve``) on a scratch
database holds a district of 15 towns × 1,000 villages, one speaker in each. One
``POST /api/v1/broadcasts`` (JSON, level I, a stored MP3, an ``Idempotency-Key``) goes to
1, 5 and 10 towns and to the whole district; for each size the best of ``--rounds``:

- the POST's answer time as the client sees it (authorisation, the idempotency check,
  resolving the targets, the orders, the program versions, the wake-ups, the audit entry,
  the commit and the answer listing every village), and the part of it up to the commit
  (the server's ``cunxiang_broadcast_fanout_seconds``);
- the baseline, measured in the same run on the same table: one ``executemany`` INSERT of
  exactly the rows that POST wrote (fresh ids), in one transaction, from this process.

Goal: 15,000 villages answered well under 1 s. The POST decides when the fan-out to the
terminals can begin, so it must grow with the villages no faster than the INSERT does.
No terminal long-polls here: ``bench/scale.py`` measures the fan-out itself.

PostgreSQL: the (empty) database of ``CUNXIANG_BENCH_DATABASE_URL``, else a server this
bench starts in a temporary directory (skipped if PostgreSQL is not installed).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _live import scratch_env, start_server, stop, tone

from tests.servers import Postgres, pg_bin

TOWNS, PER_TOWN = 15, 1000
POST_GOAL_S = 1.0


def _build() -> None:
    """The district ``bd``: towns ``t00``… of 1,000 villages, one speaker in each (bulk)."""
    from sqlalchemy import insert

    from app.areas.models import Area
    from app.db import session_scope, utcnow
    from app.speakers.models import Speaker

    rows = [{"code": "bd", "name": "基准区", "level": "district", "parent_code": None,
             "path": "bd"}]
    for t in range(TOWNS):
        town = f"t{t:02d}"
        rows.append({"code": town, "name": f"镇{t}", "level": "town", "parent_code": "bd",
                     "path": f"bd/{town}"})
        rows += [{"code": f"{town}v{v:04d}", "name": f"村{t}-{v}", "level": "village",
                  "parent_code": town, "path": f"bd/{town}/{town}v{v:04d}"}
                 for v in range(PER_TOWN)]
    villages = [r["code"] for r in rows if r["level"] == "village"]
    now = utcnow()
    with session_scope() as session:
        session.execute(insert(Area), rows)
        session.execute(insert(Speaker), [
            {"id": f"spk_{code}", "serial": code, "village_code": code, "health": "online",
             "token_hash": secrets.token_hex(32), "last_heard_at": now, "last_status": "ok"}
            for code in villages])


def _targets(size: int) -> list[str]:
    return ["bd"] if size >= TOWNS * PER_TOWN else [f"t{t:02d}" for t in range(size // PER_TOWN)]


def _fanout_sum(http: httpx.Client) -> float:
    """Seconds the server has spent issuing broadcasts up to their commits, so far."""
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("cunxiang_broadcast_fanout_seconds_sum"):
            return float(line.split()[-1])
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _post(http: httpx.Client, admin: dict[str, str], media: str, size: int,
          server: int) -> dict[str, Any]:
    """One broadcast to ``size`` villages: its id, answer and commit seconds, and the CPU
    seconds the server process spent meanwhile (SQLite's work included, PostgreSQL's not)."""
    body = {"title": "防汛紧急通知", "level": 1, "targets": _targets(size), "media": media}
    headers = {**admin, "Idempotency-Key": secrets.token_hex(8)}
    before, cpu = _fanout_sum(http), _cpu_seconds(server)
    started = time.perf_counter()
    answer = http.post("/api/v1/broadcasts", json=body, headers=headers)
    answered = time.perf_counter() - started
    cpu = _cpu_seconds(server) - cpu
    if answer.status_code != 201:
        raise SystemExit(f"broadcast refused: {answer.status_code} {answer.text[:300]}")
    document = answer.json()
    if len(document["villages"]) != size:
        raise SystemExit(f"{len(document['villages'])} villages answered, {size} expected")
    return {"id": document["id"], "answer": answered, "commit": _fanout_sum(http) - before,
            "cpu": cpu}


def _baseline(broadcast_id: str) -> float:
    """Seconds for one executemany INSERT of the broadcast's order rows (fresh ids), one
    transaction; the rows are deleted afterwards (not timed)."""
    from sqlalchemy import delete, insert, select

    from app.db import get_engine
    from app.ids import new_id
    from app.playout.models import PlayOrder

    table = PlayOrder.__table__
    engine = get_engine()
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(
            select(table).where(table.c.broadcast_id == broadcast_id))]
    copy = "bench_" + broadcast_id
    rows = [{**row, "id": new_id("ord"), "broadcast_id": copy} for row in rows]
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(table), rows)
    took = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(delete(table).where(table.c.broadcast_id == copy))
    return took


def _run(label: str, url: str | None, sizes: list[int], rounds: int) -> bool:
    with tempfile.TemporaryDirectory(prefix="cunxiang-bench-post-") as tmp:
        if url:
            os.environ["CUNXIANG_BENCH_DATABASE_URL"] = url
        else:
            os.environ.pop("CUNXIANG_BENCH_DATABASE_URL", None)
        env = scratch_env(Path(tmp))
        _build()
        media = str(tone(1.0)["sha256"])
        proc, server = start_server(env)
        try:
            http = httpx.Client(base_url=server, timeout=120)
            login = http.post("/api/v1/auth/token", json={
                "username": "admin", "password": env["CUNXIANG_ADMIN_PASSWORD"]})
            admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
            _post(http, admin, media, TOWNS * PER_TOWN, proc.pid)  # every village has a version
            results = []
            for size in sizes:
                posts = [_post(http, admin, media, size, proc.pid) for _ in range(rounds)]
                best = min(posts, key=lambda p: p["answer"])
                best["cpu"] = min(p["cpu"] for p in posts)
                base = min(_baseline(p["id"]) for p in posts)
                results.append((size, best, base))
        finally:
            stop(proc)
            from app.db import reset_engine

            reset_engine()
    return _report(label, results, rounds)


def _report(label: str, results: list[tuple[int, dict[str, Any], float]], rounds: int) -> bool:
    print(f"\n[{label}] one urgent POST (level I, stored media), best of {rounds}")
    print(f"[{label}] {'villages':>8}  {'POST':>8}  {'to commit':>9}  {'per village':>11}"
          f"  {'server CPU':>10}  {'bare INSERT':>11}  POST / INSERT")
    for size, best, base in results:
        print(f"[{label}] {size:>8,}  {best['answer'] * 1000:6.0f} ms  "
              f"{best['commit'] * 1000:6.0f} ms  {best['answer'] / size * 1e6:8.0f} µs  "
              f"{best['cpu'] * 1000:7.0f} ms  {base * 1000:8.0f} ms  "
              f"{best['answer'] / base:8.2f}×")
    largest, best, _ = results[-1]
    ok = largest < TOWNS * PER_TOWN or best["answer"] <= POST_GOAL_S
    print(f"[{label}] {largest:,} villages: POST {best['answer']:.3f} s = "
          f"{best['answer'] / POST_GOAL_S:.2f}× the {POST_GOAL_S:.0f} s goal — "
          f"{'OK' if ok else 'OVER GOAL'}")
    return ok


def main() -> int:
    """Run on SQLite, then on PostgreSQL; non-zero if over the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="1000,5000,10000,15000")
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    if any(s % PER_TOWN or s > TOWNS * PER_TOWN for s in sizes):
        raise SystemExit(f"sizes are multiples of {PER_TOWN} up to {TOWNS * PER_TOWN}")
    given = os.environ.get("CUNXIANG_BENCH_DATABASE_URL")
    ok = _run("SQLite", None, sizes, args.rounds)
    if args.sqlite_only:
        return 0 if ok else 1
    if given:
        ok = _run("PostgreSQL", given, sizes, args.rounds) and ok
    elif pg_bin() is None:
        print("\n[PostgreSQL] not installed: skipped")
    else:
        with Postgres() as pg:
            ok = _run("PostgreSQL", pg.url, sizes, args.rounds) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
