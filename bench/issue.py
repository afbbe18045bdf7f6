"""Issuing a 24 h horizon for 5,000 villages × 3 times a day, against a bare INSERT of those rows.

The issuer is the horizon job itself (``top_up_all``): for each of 50 town schedules it locks
the schedule, computes the occurrences, lists the town's villages, inserts the orders with
``ON CONFLICT DO NOTHING … RETURNING`` and bumps 100 program versions, one transaction per
schedule. The baseline, measured in the same run on the same table, is one ``executemany``
INSERT of exactly the rows the issuer wrote (ids and all), in one transaction. Goal: issuing
≤ 2× the baseline and ≤ 300 MB peak memory.

Runs on a temporary SQLite database, and also on PostgreSQL when
``CUNXIANG_BENCH_DATABASE_URL`` is set (in a scratch schema ``cunxiang_bench``, dropped after).

    .venv/bin/python bench/issue.py [--towns 50] [--villages-per-town 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_SCHEMA = "cunxiang_bench"
TIMES = ["07:00", "12:00", "18:30"]


def _configure(url: str, media_dir: Path) -> None:
    from app.config import reset_settings
    from app.db import reset_engine

    os.environ.update({"CUNXIANG_DATABASE_URL": url, "CUNXIANG_MEDIA_DIR": str(media_dir),
                       "CUNXIANG_SCHEDULER": "false", "CUNXIANG_HORIZON": "86400"})
    reset_settings()
    reset_engine()


def _postgres_scratch_url(url: str) -> str:
    """The URL with its search_path set to the scratch schema (created empty)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {BENCH_SCHEMA}"))
    engine.dispose()
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={BENCH_SCHEMA}')}"


def _drop_postgres_scratch(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE"))
    engine.dispose()


def _build_district(towns: int, per_town: int) -> list[str]:
    """A district of towns and villages, a silence playlist, one disabled schedule per town."""
    from sqlalchemy import insert, update

    from app.areas.models import Area
    from app.auth.permissions import SYSTEM
    from app.db import session_scope
    from app.playlists.schemas import PlaylistCreate
    from app.playlists.service import create_playlist
    from app.schedules.models import Schedule
    from app.schedules.schemas import ScheduleCreate
    from app.schedules.service import create_schedule

    rows = [{"code": "bd", "name": "基准区", "level": "district", "parent_code": None,
             "path": "bd"}]
    for t in range(towns):
        town = f"bt{t:03d}"
        rows.append({"code": town, "name": f"镇{t}", "level": "town", "parent_code": "bd",
                     "path": f"bd/{town}"})
        rows += [{"code": f"{town}v{v:03d}", "name": f"村{t}-{v}", "level": "village",
                  "parent_code": town, "path": f"bd/{town}/{town}v{v:03d}"}
                 for v in range(per_town)]
    with session_scope() as session:
        session.execute(insert(Area), rows)
    with session_scope() as session:
        playlist = create_playlist(session=session, principal=SYSTEM, data=PlaylistCreate(
            name="基准节目", area="bd", items=[{"silence_ms": 90_000}], chime=None, gap_ms=0))
        playlist_id = playlist.id
    ids = []
    with session_scope() as session:
        for t in range(towns):
            schedule = create_schedule(session=session, principal=SYSTEM, data=ScheduleCreate(
                name=f"基准{t}", playlist=playlist_id, targets=[f"bt{t:03d}"], times=TIMES,
                loop=3, enabled=False))
            ids.append(schedule.id)
        session.execute(update(Schedule).values(enabled=True))
    return ids


def _clear_orders() -> None:
    from sqlalchemy import delete, update

    from app.db import session_scope
    from app.playout.models import PlayOrder, VillageProgram
    from app.schedules.models import Schedule

    with session_scope() as session:
        session.execute(delete(PlayOrder))
        session.execute(delete(VillageProgram))
        session.execute(update(Schedule).values(issued_through=None))


def _issued_rows() -> list[dict[str, Any]]:
    from sqlalchemy import select

    from app.db import session_scope
    from app.playout.models import PlayOrder

    table = PlayOrder.__table__
    with session_scope() as session:
        return [dict(row._mapping) for row in session.execute(select(table))]


def _issue(now: datetime) -> int:
    from app.schedules.issuing import top_up_all

    return top_up_all(now=now).issued


def _baseline(rows: list[dict[str, Any]]) -> int:
    from sqlalchemy import insert

    from app.db import get_engine
    from app.playout.models import PlayOrder

    with get_engine().begin() as conn:
        conn.execute(insert(PlayOrder.__table__), rows)
    return len(rows)


def _timed(action: Callable[[], int]) -> tuple[float, float, int]:
    """Wall-clock and CPU seconds of ``action`` (CPU: this process, SQLite's work included)."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = action()
    return time.perf_counter() - wall, time.process_time() - cpu, count


def _peak_mb(action: Callable[[], int]) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _bench(label: str, rounds: int, now: datetime) -> bool:
    issue_runs, base_runs, rows = [], [], []
    for _ in range(rounds):
        _clear_orders()
        wall, cpu, issued = _timed(lambda: _issue(now))
        issue_runs.append((wall, cpu))
        rows = _issued_rows()
        assert issued == len(rows), (issued, len(rows))
        _clear_orders()
        wall, cpu, _ = _timed(lambda rows=rows: _baseline(rows))
        base_runs.append((wall, cpu))
    _clear_orders()
    issue_peak = _peak_mb(lambda: _issue(now))
    _clear_orders()
    base_peak = _peak_mb(lambda: _baseline(rows))
    # Best of the rounds: the least disturbed by other work on the machine.
    issue_t, issue_cpu = min(issue_runs)
    base_t, base_cpu = min(base_runs)
    ratio = issue_t / base_t
    print(f"[{label}] orders issued: {len(rows):,} (best of {rounds} rounds)")
    print(f"[{label}] issuing (horizon job): {issue_t:.3f} s wall, {issue_cpu:.3f} s CPU, "
          f"{len(rows) / issue_t:,.0f} orders/s, Python peak {issue_peak:.1f} MB")
    print(f"[{label}] baseline executemany INSERT: {base_t:.3f} s wall, {base_cpu:.3f} s CPU, "
          f"{len(rows) / base_t:,.0f} rows/s, Python peak {base_peak:.1f} MB")
    ok = ratio <= 2.0 and issue_peak <= 300
    print(f"[{label}] ratio issuing / baseline: {ratio:.2f}× wall, "
          f"{issue_cpu / base_cpu:.2f}× CPU (goal ≤ 2×) — {'OK' if ok else 'OVER GOAL'}")
    return ok


def main() -> int:
    """Run the benchmark on SQLite (and PostgreSQL if configured); non-zero if over a goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--towns", type=int, default=50)
    parser.add_argument("--villages-per-town", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from zoneinfo import ZoneInfo

    now = datetime(2025, 1, 6, 5, 0, tzinfo=ZoneInfo("Asia/Shanghai")) + timedelta(0)
    targets = [("SQLite", None)]
    if os.environ.get("CUNXIANG_BENCH_DATABASE_URL"):
        targets.append(("PostgreSQL", os.environ["CUNXIANG_BENCH_DATABASE_URL"]))
    print(f"{args.towns} towns × {args.villages_per_town} villages × {len(TIMES)} times a day, "
          "24 h horizon")
    ok = True
    with tempfile.TemporaryDirectory(prefix="cunxiang-bench-") as tmp:
        for label, url in targets:
            from app.migrate import upgrade
            from app.wiring import wire

            db_url = _postgres_scratch_url(url) if url else f"sqlite:///{tmp}/bench.db"
            _configure(db_url, Path(tmp) / "media")
            upgrade(db_url)
            wire()  # as in a server: the service's reactions run with the changes
            _build_district(args.towns, args.villages_per_town)
            try:
                ok = _bench(label, args.rounds, now) and ok
            finally:
                from app.db import reset_engine

                reset_engine()
                if url:
                    _drop_postgres_scratch(url)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MB (goal ≤ 300 MB)")
    return 0 if ok and rss <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
