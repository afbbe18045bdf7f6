"""``cunxiang render``: a script file → an MP3 without a server; ``--pinyin`` for checking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.announcements.helpers import ffprobe, loudness_and_peak
from tests.conftest import ROOT


def _cunxiang(*args: str, media_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CUNXIANG_MEDIA_DIR": str(media_dir)}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_render_writes_a_loudness_normalised_mp3(tmp_path: Path) -> None:
    script = tmp_path / "notice.txt"
    script.write_text("村民们请注意。\n明天上午九点开会。\n", encoding="utf-8")
    out = tmp_path / "out" / "notice.mp3"
    result = _cunxiang("render", str(script), "-o", str(out), media_dir=tmp_path / "media")
    assert result.returncode == 0, result.stderr
    assert "rendering" in result.stderr  # the progress indication
    assert "wrote" in result.stdout
    info = ffprobe(out)
    assert info["format"]["format_name"] == "mp3" and info["streams"][0]["channels"] == 1
    assert 1.5 < float(info["format"]["duration"]) < 15
    lufs, peak = loudness_and_peak(out.read_bytes())
    assert abs(lufs + 16) <= 1 and peak <= -1.0
    again = _cunxiang("render", str(script), "-o", str(out), media_dir=tmp_path / "media")
    assert again.returncode == 0 and "(cached)" in again.stdout


def test_render_pinyin_prints_one_line_per_input_line(tmp_path: Path) -> None:
    script = tmp_path / "lines.txt"
    script.write_text("去银行办事\n\n重新开始，行动起来\n", encoding="utf-8")
    result = _cunxiang("render", "--pinyin", str(script), media_dir=tmp_path / "media")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[1] == ""
    assert "yin2 hang2" in lines[0]
    assert "chong2 xin1" in lines[2] and "xing2 dong4" in lines[2]
    assert not (tmp_path / "media").exists()  # nothing rendered


def test_render_refuses_bad_input(tmp_path: Path) -> None:
    binary = tmp_path / "latin1.txt"
    binary.write_bytes("caf\xe9".encode("latin-1"))
    result = _cunxiang("render", str(binary), "-o", str(tmp_path / "x.mp3"), media_dir=tmp_path)
    assert result.returncode == 2 and "UTF-8" in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("。。。\n", encoding="utf-8")
    result = _cunxiang("render", str(empty), "-o", str(tmp_path / "x.mp3"), media_dir=tmp_path)
    assert result.returncode == 1 and not (tmp_path / "x.mp3").exists()
    no_output = _cunxiang("render", str(empty), media_dir=tmp_path)
    assert no_output.returncode == 1 and not (tmp_path / "empty.mp3").exists()


def test_render_without_output_writes_the_mp3_beside_the_script(tmp_path: Path) -> None:
    script = tmp_path / "notice.txt"
    script.write_text("村民们请注意，明天上午九点开会。\n", encoding="utf-8")
    result = _cunxiang("render", str(script), media_dir=tmp_path / "media")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "notice.mp3"
    assert f"wrote {out}" in result.stdout
    assert ffprobe(out)["format"]["format_name"] == "mp3"
    assert script.read_text(encoding="utf-8").startswith("村民们")
    named_mp3 = tmp_path / "script.mp3"
    named_mp3.write_text("村民们请注意。\n", encoding="utf-8")
    refused = _cunxiang("render", str(named_mp3), media_dir=tmp_path / "media")
    assert refused.returncode == 2 and "-o" in refused.stderr
    assert named_mp3.read_text(encoding="utf-8") == "村民们请注意。\n"
