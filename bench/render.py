"""Benchmark: the render pipeline against espeak-ng + ffmpeg run directly; a cached re-render.

Run from the project root: ``.venv/bin/python bench/render.py [SCRIPT.txt]``. The baseline
feeds the same pinyin to ``espeak-ng -v cmn-latn-pinyin -w x.wav`` and encodes it with
``ffmpeg`` using the pipeline's MP3 settings; the pipeline adds normalisation, pinyin,
chimes, pauses, loudness measurement, limiting and storage. Goals: ≤ 1.5× the baseline,
cached re-render under 20 ms. Wall time depends on what else the machine runs, so CPU
time (this process and its children) is printed beside it.
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

from app.media.storage import MediaStore  # noqa: E402
from app.rendering.pinyin import to_pinyin  # noqa: E402
from app.rendering.pipeline import _MP3_OPTIONS  # noqa: E402
from app.rendering.render import render_script  # noqa: E402

SCRIPT = ROOT / "bench" / "notice_1000.txt"
ROUNDS = 3


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


if __name__ == "__main__":
    main()
