"""Shared set-up of the terminal benchmarks: a scratch database, a real server, speakers, media.

The database is a fresh SQLite file in a temporary directory, or the (empty) database
named by ``CUNXIANG_BENCH_DATABASE_URL``. ``BENCH_SERVER_LOG=FILE`` keeps the server's
stderr.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

__all__ = ["ROOT", "scratch_env", "free_port", "start_server", "stop", "make_area_tree",
           "make_speakers", "tone", "insert_orders", "percentile", "TerminalConnection",
           "follow_program"]


def scratch_env(workdir: Path) -> dict[str, str]:
    """Point this process at a fresh, migrated database and media dir, with the service's
    reactions wired as in a server (:func:`app.wiring.wire`); returns the variables."""
    from app.config import reset_settings
    from app.db import reset_engine
    from app.migrate import upgrade
    from app.wiring import wire

    url = os.environ.get("CUNXIANG_BENCH_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    values = {"CUNXIANG_DATABASE_URL": url, "CUNXIANG_MEDIA_DIR": str(workdir / "media"),
              "CUNXIANG_ADMIN_PASSWORD": "bench-pass-123", "CUNXIANG_SCHEDULER": "false"}
    os.environ.update(values)
    reset_settings()
    reset_engine()
    upgrade(url)
    wire()
    return values


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(env: dict[str, str], argv: list[str] | None = None,
                 port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``cunxiang serve`` (or ``argv``) and wait for /readyz; returns it and its URL."""
    port = port or free_port()
    command = argv or [sys.executable, "-m", "app", "serve", "--no-migrate"]
    with open(os.environ.get("BENCH_SERVER_LOG", os.devnull), "ab") as errors:
        proc = subprocess.Popen(command, cwd=ROOT,
                                env={**os.environ, **env, "CUNXIANG_PORT": str(port)},
                                stdout=subprocess.DEVNULL, stderr=errors)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit("the server exited during start-up")
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM a process and wait for it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def make_area_tree(villages: int) -> list[str]:
    """A district with one town holding ``villages`` villages; their codes."""
    from app.areas.models import Area
    from app.db import session_scope

    codes = [f"bv{n:04d}" for n in range(villages)]
    with session_scope() as session:
        session.add(Area(code="bd", name="区", level="district", parent_code=None, path="bd"))
        session.add(Area(code="bt", name="镇", level="town", parent_code="bd", path="bd/bt"))
        session.flush()
        for code in codes:
            session.add(Area(code=code, name=code, level="village", parent_code="bt",
                             path=f"bd/bt/{code}"))
    return codes


def make_speakers(villages: list[str], per_village: int) -> list[tuple[str, str]]:
    """Register speakers through the service; returns (village, token) pairs."""
    from app.auth.permissions import SYSTEM
    from app.db import session_scope
    from app.speakers.schemas import SpeakerCreate
    from app.speakers.service import create_speaker

    tokens = []
    with session_scope() as session:
        for village in villages:
            for n in range(per_village):
                _, token = create_speaker(session=session, principal=SYSTEM, data=SpeakerCreate(
                    serial=f"{village}-{n}", village=village))
                tokens.append((village, token))
    return tokens


def tone(seconds: float, frequency: int = 440) -> dict[str, Any]:
    """A real MP3 tone (ffmpeg) in the media store, recorded; the order's media item."""
    from app.db import session_scope
    from app.media.service import media_store, record_media

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "tone.mp3"
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                        f"sine=frequency={frequency}:duration={seconds}", "-ac", "1",
                        "-ar", "22050", "-b:a", "32k", str(out)], check=True)
        data = out.read_bytes()
        probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                                "-of", "csv=p=0", str(out)], check=True, capture_output=True,
                               text=True)
    duration = round(float(probe.stdout.strip()) * 1000)
    stored = media_store().put_bytes(data)
    with session_scope() as session:
        record_media(session, sha256=stored.sha256, kind="recording", size_bytes=stored.size,
                     duration_ms=duration, title="tone")
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    return {"url": f"/media/{stored.sha256}", "sha256": stored.sha256, "duration_ms": duration}


def insert_orders(village: str, starts: list[datetime], media: list[dict[str, Any]]) -> list[str]:
    """Routine orders at these starts in one village (one transaction, one bump); their ids."""
    from app.db import session_scope
    from app.playout.models import PlayOrder
    from app.playout.program import bump_program_versions

    duration = sum(m["duration_ms"] for m in media)
    ids = []
    with session_scope() as session:
        for start in starts:
            order = PlayOrder(kind="routine", village_code=village, start_at=start,
                              not_after=start + timedelta(milliseconds=duration, minutes=15),
                              loop=1, mode="actual", priority=0, title="bench", media=media,
                              duration_ms=duration, state="issued", schedule_id="sch_bench")
            session.add(order)
            session.flush()
            ids.append(order.id)
        bump_program_versions(session, [village])
    return ids


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(share * len(ordered) + 0.5)))
    return ordered[rank - 1]


class TerminalConnection:
    """One terminal's keep-alive HTTP/1.1 connection (GET only): a minimal client, so that a
    thousand terminals' own parsing costs little of the two cores the server shares with
    them (httpx costs about a millisecond of CPU per request, more than the server's own
    answer to a long-poll)."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = (f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
                     "Accept: application/json\r\n\r\n").encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, target: str) -> tuple[int, bytes]:
        """Status and body of ``GET target`` (connecting again if the server closed)."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {target} HTTP/1.1\r\n".encode() + self.head)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.writer.close()
            raise
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = next((int(line.split(b":", 1)[1]) for line in lines
                       if line.lower().startswith(b"content-length:")), 0)
        body = await self.reader.readexactly(length) if length else b""
        if any(line.lower() == b"connection: close" for line in lines):
            self.writer.close()
        return status, body


async def follow_program(connection: TerminalConnection, version: int,
                         arrivals: dict[str, list[float]], errors: list[str],
                         wait: int = 60) -> None:
    """Long-poll for ever from ``version``, noting when each broadcast first arrives;
    failures are counted and retried, as a terminal does."""
    import json

    seen: set[str] = set()
    while True:
        try:
            status, body = await connection.get(
                f"/terminal/v1/program?version={version}&wait={wait}")
        except (OSError, asyncio.IncompleteReadError) as exc:
            errors.append(repr(exc))
            await asyncio.sleep(0.1)
            continue
        now = time.time()
        if status == 304:
            continue
        if status != 200:
            errors.append(f"HTTP {status}: {body[:200]!r}")
            await asyncio.sleep(0.1)
            continue
        program = json.loads(body)
        version = program["version"]
        for order in program["orders"]:
            broadcast = order.get("broadcast")
            if broadcast and broadcast not in seen:
                seen.add(broadcast)
                arrivals[broadcast].append(now)
