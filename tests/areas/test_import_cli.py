"""``cunxiang import-areas`` on a big file: progress on stderr; SIGTERM stops it between two
chunks with a clear message, and the import is finished exactly once afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from tests.conftest import ROOT

pytestmark = pytest.mark.timeout(300)


def _csv(path: Path, lines: int) -> Path:
    towns = lines // 200
    rows = ["cd,新区,district,"] + [f"ct{t},镇,town,cd" for t in range(towns)]
    rows += [f"cv{v},村,village,ct{v % towns}" for v in range(lines - towns - 1)]
    path.write_text("code,name,level,parent\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "app", *args], cwd=ROOT,
                            env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _areas() -> int:
    from app.areas.models import Area

    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Area)) or 0


def test_a_big_import_shows_its_progress(env: dict[str, str], tmp_path: Path) -> None:
    cli = _cli(env, "import-areas", str(_csv(tmp_path / "big.csv", 12_000)))
    out, err = cli.communicate(timeout=240)
    assert cli.returncode == 0, err
    assert "created 12000, updated 0" in out
    steps = [line for line in err.splitlines() if line.startswith("imported ")]
    assert len(steps) >= 2 and steps[-1] == "imported 12000/12000 line(s)"
    assert _areas() == 12_000


def test_sigterm_stops_an_import_between_chunks_and_it_is_finished_later(
    env: dict[str, str], tmp_path: Path,
) -> None:
    from app.areas.imports import resume_imports
    from app.areas.models import AreaImport

    cli = _cli(env, "import-areas", str(_csv(tmp_path / "big.csv", 40_000)))
    assert cli.stderr is not None
    first = cli.stderr.readline()  # the first progress line: a chunk is written
    assert first.startswith("imported "), first
    cli.send_signal(signal.SIGTERM)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 130, (out, err)
    assert "interrupted after" in err and "run the same command again" in err
    with session_scope() as session:
        job = session.scalar(select(AreaImport))
        assert job is not None
        assert (job.status, job.heartbeat_at) == ("running", None)
        assert 0 < job.done < job.total == 40_000
        written = job.done
    assert _areas() == written  # what was written stays, and nothing more

    assert resume_imports() == 1  # as a server's lease holder would
    with session_scope() as session:
        job = session.scalar(select(AreaImport))
        assert job is not None and (job.status, job.done, job.created) == ("done", 40_000,
                                                                           40_000)
    assert _areas() == 40_000
