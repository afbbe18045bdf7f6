"""Benchmark: how late the reference terminal starts 50 scheduled orders.

Run from the project root: ``.venv/bin/python bench/terminal.py``. A real server serves a
program of 50 orders (a short real tone each, 0.6 s apart); the reference terminal plays
them through a player command that writes the time it actually ran. Two latenesses per
start, against ``start_at``:

- **spawn**: when the terminal had the player process started (its log's ``late_ms``);
- **sound**: when the player process was running (its own clock reading), which adds
  the operating system's process start-up — what a listener would hear.

Goal: p99 ≤ 100 ms. Server and terminal share this machine's clock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _live import (
    ROOT,
    insert_orders,
    make_area_tree,
    make_speakers,
    percentile,
    scratch_env,
    start_server,
    stop,
    tone,
)

STARTS = 50
SPACING = timedelta(seconds=0.6)
LEAD = timedelta(seconds=8)
GOAL_MS = 100.0


def _summary(name: str, values: list[float]) -> str:
    return (f"{name:<6} p50 {percentile(values, 0.5):7.1f} ms"
            f"   p99 {percentile(values, 0.99):7.1f} ms"
            f"   max {max(values):7.1f} ms   (n={len(values)})")


def main() -> int:
    """Set up, run the terminal across the 50 starts, print the figures."""
    from app.terminal.log import parse_line

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        env = scratch_env(workdir)
        (village,) = make_area_tree(1)
        ((_, token),) = make_speakers([village], 1)
        media = [tone(0.3)]
        server, url = start_server(env)
        first = datetime.now(UTC) + LEAD  # time for the terminal to start and fetch its media
        starts = [first + n * SPACING for n in range(STARTS)]
        ids = insert_orders(village, starts, media)
        start_of = dict(zip(ids, starts, strict=True))
        record = workdir / "sounded.txt"
        player = f"/bin/sh -c 'echo \"$(date +%s.%N) $1\" >> {record}' player {{file}}"
        log_path = workdir / "terminal.log"
        try:
            with log_path.open("w") as log:
                terminal = subprocess.Popen(
                    [sys.executable, "-m", "app", "terminal", "--server", url, "--token", token,
                     "--cache", str(workdir / "cache"), "--player", player],
                    cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
                remaining = (starts[-1] - datetime.now(UTC)).total_seconds() + 2
                time.sleep(max(remaining, 0))
                terminal.terminate()
                terminal.wait(20)
        finally:
            stop(server)
        spawn = []
        for raw in log_path.read_text().splitlines():
            line = parse_line(raw)
            if line and line.event == "play" and line.fields.get("order") in start_of:
                late = line.fields.get("late_ms")
                spawn.append(float(late) if late else 0.0)
        sounded = [float(row.split()[0]) for row in record.read_text().splitlines()] \
            if record.exists() else []
        sound = [(at - start.timestamp()) * 1000
                 for at, start in zip(sounded, starts, strict=False)]
    if len(spawn) != STARTS or len(sound) != STARTS:
        print(f"expected {STARTS} starts, saw {len(spawn)} in the log and {len(sound)} sounded")
        return 1
    print(f"reference terminal: {STARTS} scheduled starts, {SPACING.total_seconds()} s apart")
    print(_summary("spawn", spawn))
    print(_summary("sound", sound))
    p99 = percentile(sound, 0.99)
    print(f"goal p99 ≤ {GOAL_MS:.0f} ms: {'met' if p99 <= GOAL_MS else 'NOT met'} "
          f"(sound p99 / goal = {p99 / GOAL_MS:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
