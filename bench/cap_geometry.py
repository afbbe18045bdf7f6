"""Benchmark: which speakers lie in a CAP alert's area — the 41,009-point polygon, 10,000 speakers.

Run from the project root: ``.venv/bin/python bench/cap_geometry.py [--speakers 10000]``.
The document is the real Burkina Faso alert of the CAP corpus (``../shared/cap-real/28-…``,
882 KB, one polygon of 41,009 points); the speakers are spread at random (seeded) over the
polygon's bounding box, so about half of them are inside it. Figures:

- **parse**: the document checked and read (``parse_cap``);
- **match**: build the prepared polygon and test every speaker (``AlertArea``);
- baseline **bounding-box scan**: the numpy box test alone, the least any method must do;
- baseline **old implementation**: ``geo.point_in_polygon`` per speaker, walking every edge
  (timed on a sample of speakers and scaled up: the whole run would take minutes);
- **end to end**: ``locate_cap`` on a scratch database holding the speakers — parse, read
  every position, match — the CAP request's own cost before any audio is made. Goal ≤ 1 s.

Set ``CUNXIANG_BENCH_DATABASE_URL`` to an empty PostgreSQL database to run on it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _live import scratch_env

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "cap-real"
DOCUMENT = CORPUS / "28-burkina-fr-41009-point-polygon-signed.xml"
GOAL_S = 1.0
OLD_SAMPLE = 60
VILLAGES = 1000


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The median time of ``runs`` runs of ``work``, and its last result."""
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def positions(polygon: list[tuple[float, float]], count: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` positions spread evenly over the polygon's bounding box (seeded)."""
    lats = np.array([lat for lat, _ in polygon])
    lons = np.array([lon for _, lon in polygon])
    rng = np.random.default_rng(41009)
    return (rng.uniform(lats.min(), lats.max(), count), rng.uniform(lons.min(), lons.max(), count))


def store_speakers(lats: np.ndarray, lons: np.ndarray) -> None:
    """A district of ``VILLAGES`` villages holding the speakers, written in bulk."""
    from sqlalchemy import insert

    from app.areas.models import Area
    from app.db import session_scope, utcnow
    from app.speakers.models import Speaker

    now = utcnow()
    with session_scope() as session:
        session.add(Area(code="bd", name="区", level="district", parent_code=None, path="bd"))
        session.add(Area(code="bt", name="镇", level="town", parent_code="bd", path="bd/bt"))
        session.flush()
        session.execute(
            insert(Area),
            [
                {
                    "code": f"bv{n:04d}",
                    "name": f"村{n}",
                    "level": "village",
                    "parent_code": "bt",
                    "path": f"bd/bt/bv{n:04d}",
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(VILLAGES)
            ],
        )
        session.execute(
            insert(Speaker),
            [
                {
                    "id": f"spk_bench{n:06d}",
                    "serial": f"SN-{n}",
                    "village_code": f"bv{n % VILLAGES:04d}",
                    "lat": float(lat),
                    "lon": float(lon),
                    "maintenance": False,
                    "health": "offline",
                    "created_at": now,
                    "updated_at": now,
                }
                for n, (lat, lon) in enumerate(zip(lats, lons, strict=True))
            ],
        )


def main() -> int:
    """Print the figures; non-zero if the end-to-end time misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speakers", type=int, default=10_000)
    args = parser.parse_args()
    if not DOCUMENT.is_file():
        print(f"the CAP corpus is not at {CORPUS}: nothing to measure")
        return 0

    from app.broadcasts import flows
    from app.broadcasts.cap import parse_cap
    from app.broadcasts.geo import point_in_polygon
    from app.broadcasts.shapes import AlertArea

    document = DOCUMENT.read_bytes()
    parse_s, alert = best_of(5, lambda: parse_cap(document, max_bytes=flows.MAX_CAP_BYTES))
    [polygon] = alert.polygons
    lats, lons = positions(polygon, args.speakers)
    match_s, inside = best_of(5, lambda: AlertArea([polygon], []).covers(lats, lons))
    south, north = min(p[0] for p in polygon), max(p[0] for p in polygon)
    west, east = min(p[1] for p in polygon), max(p[1] for p in polygon)
    box_s, _ = best_of(
        5, lambda: (lats >= south) & (lats <= north) & (lons >= west) & (lons <= east)
    )
    sample = range(OLD_SAMPLE)
    old_sample_s, old = best_of(
        1, lambda: [point_in_polygon(lats[i], lons[i], polygon) for i in sample]
    )
    old_s = old_sample_s / OLD_SAMPLE * args.speakers
    if old != inside[:OLD_SAMPLE].tolist():
        print("the old and the new implementation disagree!")
        return 1

    with tempfile.TemporaryDirectory(prefix="cx-bench-cap-") as workdir:
        scratch_env(Path(workdir))
        store_speakers(lats, lons)

        def load() -> flows.SpeakerPositions:
            from app.db import session_scope

            with session_scope() as session:
                return flows.speaker_positions(session)

        end_s, located = best_of(5, lambda: flows.locate_cap(document, positions=load))
        from app.db import reset_engine

        reset_engine()

    print(
        f"document: {DOCUMENT.name} ({len(document) / 1024:.0f} KB, "
        f"{len(polygon):,} points); {args.speakers:,} speakers, {int(inside.sum()):,} inside"
    )
    print(f"parse                          {parse_s * 1000:9.1f} ms")
    print(f"match (prepared polygon)       {match_s * 1000:9.1f} ms")
    print(
        f"baseline: bounding-box scan    {box_s * 1000:9.1f} ms   match/box = "
        f"{match_s / box_s:,.0f}x"
    )
    print(
        f"baseline: old implementation   {old_s * 1000:9.1f} ms   (measured on {OLD_SAMPLE} "
        f"speakers, {old_sample_s / OLD_SAMPLE * 1000:.1f} ms each)   old/match = "
        f"{old_s / match_s:,.0f}x"
    )
    print(
        f"end to end (locate_cap)        {end_s * 1000:9.1f} ms   goal <= {GOAL_S:.0f} s: "
        f"{'met' if end_s <= GOAL_S else 'MISSED'}   old/end-to-end = {old_s / end_s:,.0f}x"
    )
    print(f"villages found: {len(located.shape_villages or ())} of {VILLAGES}")
    return 0 if end_s <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
