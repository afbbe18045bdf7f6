"""Benchmark: the render pipeline against espeak-ng + ffmpeg run directly; a cached re-render.

Run from the project root: ``.venv/bin/python bench/render.py [SCRIPT.txt]``. The baseline
feeds the same pinyin to ``espeak-ng -v cmn-latn-pinyin -w x.wav`` and encodes it with
``ffmpeg`` using the pipeline's MP3 settings; the pipeline adds normalisation, pinyin,
chimes, pauses, loudness measurement, limiting and storage. Goals: ≤ 1.5× the baseline,
cached re-render under 20 ms. It also times ``cunxiang render --pinyin`` start-up (goal
≤ 3 s), which loads the phrasebook, and the first run that builds it. Wall time depends on
what else the machine runs, so CPU time (this process and its children) is printed beside it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.rendering.pinyin import to_pinyin  # noqa: E402
from app.rendering.pipeline import _MP3_OPTIONS  # noqa: E402
from app.rendering.render import render_script  # noqa: E402
from app.storage.store import MediaStore  # noqa: E402

SCRIPT = ROOT / "bench" / "notice_1000.txt"
ROUNDS = 3
CLI = Path(sys.executable).parent / "cunxiang"
STARTUP_GOAL_S = 3.0
_RSS = (
    "import resource; from app.rendering.pinyin import to_pinyin; to_pinyin('大家得提前。'); "
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
)


def pinyin_startup(line_file: Path, env: dict[str, str] | None = None) -> float:
    """Wall seconds of one ``cunxiang render --pinyin`` of a one-line file."""
    started = time.perf_counter()
    subprocess.run([str(CLI), "render", "--pinyin", str(line_file)], check=True,
                   capture_output=True, env=env)
    return time.perf_counter() - started


def startup_figures() -> None:
    """``render --pinyin`` start-up with the phrasebook built, and the first run that builds it."""
    with tempfile.TemporaryDirectory() as workdir:
        line = Path(workdir) / "line.txt"
        line.write_text("大家得提前到卫生院接种第2针。\n", "utf-8")
        pinyin_startup(line)  # the installed phrasebook exists from here on
        warm = statistics.median(pinyin_startup(line) for _ in range(ROUNDS))
        cold_env = {**os.environ, "CUNXIANG_PHRASE_CACHE": str(Path(workdir) / "phrases")}
        cold = pinyin_startup(line, cold_env)
        bare = statistics.median(
            timed(lambda: subprocess.run([sys.executable, "-c", "import pypinyin"], check=True))[0]
            for _ in range(ROUNDS))
    rss = subprocess.run([sys.executable, "-c", _RSS], check=True, capture_output=True,
                         text=True, cwd=ROOT).stdout.strip()
    print(f"cunxiang render --pinyin start-up: {warm:.2f} s (goal <= {STARTUP_GOAL_S:.0f} s; "
          f"python + import pypinyin alone: {bare:.2f} s); first run, building the "
          f"phrasebook: {cold:.2f} s; a process holding it: {rss} MB peak RSS")


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children."""
    mine, children = os.times(), os.times()
    return mine.user + mine.system + children.children_user + children.children_system


def timed(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall seconds, CPU seconds and result of ``work()``."""
    wall, cpu = time.perf_counter(), _cpu()
    result = work()
    return time.perf_counter() - wall, _cpu() - cpu, result


def direct(pinyin: str, workdir: Path) -> None:
    """espeak-ng → WAV → ffmpeg → MP3 on the same pinyin."""
    wav, mp3 = workdir / "x.wav", workdir / "x.mp3"
    espeak = ["espeak-ng", "-v", "cmn-latn-pinyin", "-s", "165", "-w", str(wav), pinyin]
    subprocess.run(espeak, check=True)
    encode = ["ffmpeg", "-y", "-v", "error", "-i", str(wav), *_MP3_OPTIONS, str(mp3)]
    subprocess.run(encode, check=True)


def main() -> None:
    """Run the rounds and print the medians."""
    script = Path(sys.argv[1]) if len(sys.argv) > 1 else SCRIPT
    text = script.read_text("utf-8")
    pinyin = " ".join(p for p in (to_pinyin(line) for line in text.splitlines()) if p)
    with tempfile.TemporaryDirectory() as warm_up:
        render_script("预热。", engine="espeak", media_store=MediaStore(warm_up))
    rows: dict[str, list[tuple[float, float]]] = {"direct": [], "cold": [], "cached": []}
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as workdir:
            store = MediaStore(Path(workdir) / "media")
            seconds, cpu_s, _ = timed(partial(direct, pinyin, Path(workdir)))
            rows["direct"].append((seconds, cpu_s))
            seconds, cpu_s, first = timed(partial(render_script, text, media_store=store))
            rows["cold"].append((seconds, cpu_s))
            seconds, cpu_s, again = timed(partial(render_script, text, media_store=store))
            rows["cached"].append((seconds, cpu_s))
            assert again.cached and again.sha256 == first.sha256
    wall = {k: statistics.median(w for w, _ in v) for k, v in rows.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in rows.items()}
    print(
        f"script: {script.name}, {len(text)} characters, {first.duration_ms / 1000:.1f} s of audio"
    )
    print(f"espeak-ng + ffmpeg directly: {wall['direct']:.2f} s wall, {cpu['direct']:.2f} s CPU")
    print(f"render pipeline, cold cache: {wall['cold']:.2f} s wall, {cpu['cold']:.2f} s CPU")
    print(
        f"ratio pipeline / direct: {wall['cold'] / wall['direct']:.2f}x wall, "
        f"{cpu['cold'] / cpu['direct']:.2f}x CPU (goal <= 1.5x)"
    )
    print(f"cached re-render: {wall['cached'] * 1000:.2f} ms (goal < 20 ms)")
    startup_figures()


if __name__ == "__main__":
    main()
