"""A big write never locks out an urgent broadcast, and never keeps the server from stopping.

Real server processes, on SQLite and on PostgreSQL: a level-I broadcast sent again and again
while a 30,000-line area import and a schedule change over 2,000 villages run must answer 201
each time; a server stopped (SIGTERM) in the middle of an import exits promptly, and the
import is finished exactly once after the restart. (The latency figures are in
``bench/contention.py``; here only a generous bound.)
"""

from __future__ import annotations

import secrets
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from app.db import session_scope
from tests.conftest import ADMIN_PASSWORD, LiveServer

pytestmark = pytest.mark.timeout(300)  # real servers and 30,000-line imports

GENEROUS_S = 10.0  # an urgent POST answered later than this counts as locked out
TOWNS = 20  # × 100 villages, all in one scheduled district


def _district() -> str:
    """District ``bd`` of 2,000 villages with one schedule over it; the schedule's id."""
    from app.areas.models import Area
    from app.auth.permissions import SYSTEM
    from app.playlists.schemas import PlaylistCreate
    from app.playlists.service import create_playlist
    from app.schedules.schemas import ScheduleCreate
    from app.schedules.service import create_schedule

    rows = [{"code": "bd", "name": "区", "level": "district", "parent_code": None, "path": "bd"}]
    for t in range(TOWNS):
        rows.append({"code": f"bt{t}", "name": "镇", "level": "town", "parent_code": "bd",
                     "path": f"bd/bt{t}"})
        rows += [{"code": f"bt{t}v{v}", "name": "村", "level": "village", "parent_code": f"bt{t}",
                  "path": f"bd/bt{t}/bt{t}v{v}"} for v in range(100)]
    with session_scope() as session:
        session.execute(insert(Area), rows)
    with session_scope() as session:
        playlist = create_playlist(session=session, principal=SYSTEM, data=PlaylistCreate(
            name="静音", area="bd", items=[{"silence_ms": 1000}], chime=None, gap_ms=0))
        playlist_id = playlist.id
    with session_scope() as session:
        return create_schedule(session=session, principal=SYSTEM, data=ScheduleCreate(
            name="全区", playlist=playlist_id, targets=["bd"],
            times=["07:00", "12:00", "18:30"])).id


def _stored_tone() -> str:
    """A real MP3 in the media store, recorded; its sha256."""
    from app.media.service import media_store, record_media

    mp3 = subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                          "sine=frequency=440:duration=1", "-ac", "1", "-f", "mp3", "pipe:1"],
                         check=True, capture_output=True).stdout
    stored = media_store().put_bytes(mp3)
    with session_scope() as session:
        record_media(session, sha256=stored.sha256, kind="recording", size_bytes=stored.size,
                     duration_ms=1000, title="tone")
    return stored.sha256


def _csv(lines: int, prefix: str = "n") -> bytes:
    towns = lines // 200
    rows = [f"{prefix}d,新区,district,"] + [f"{prefix}t{t},镇,town,{prefix}d" for t in range(towns)]
    rows += [f"{prefix}v{v},村,village,{prefix}t{v % towns}" for v in range(lines - towns - 1)]
    return ("code,name,level,parent\n" + "\n".join(rows) + "\n").encode()


def _admin(server: LiveServer) -> dict[str, str]:
    answer = httpx.post(server.url + "/api/v1/auth/token",
                        json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def _urgent_while(server: LiveServer, admin: dict[str, str], media: str,
                  work: Callable[[], Any]) -> list[tuple[int, float]]:
    """Send level-I broadcasts back to back while ``work`` runs; (status, seconds) of each."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        finally:
            done.set()

    thread = threading.Thread(target=run)
    thread.start()
    answers = []
    with httpx.Client(base_url=server.url, timeout=60) as http:
        while not done.is_set():
            started = time.monotonic()
            answer = http.post("/api/v1/broadcasts", headers={
                **admin, "Idempotency-Key": secrets.token_hex(8)}, json={
                "title": "紧急", "level": 1, "targets": ["bt0"], "media": media})
            answers.append((answer.status_code, time.monotonic() - started))
            time.sleep(0.1)
    thread.join()
    return answers


def _import(server: LiveServer, admin: dict[str, str], body: bytes,
            timeout: float = 300) -> dict[str, Any]:
    """POST the import and poll it until done (a small one may answer at once)."""
    answer = httpx.post(server.url + "/api/v1/areas/import", content=body, timeout=timeout,
                        headers={**admin, "Content-Type": "text/csv"})
    assert answer.status_code in (200, 202), answer.text
    if answer.status_code == 200:
        return {"status": "done", **answer.json()}
    return _poll(server, admin, answer.headers["location"], timeout)


def _poll(server: LiveServer, admin: dict[str, str], location: str,
          timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = httpx.get(server.url + location, headers=admin, timeout=30).json()
        if state["status"] != "running":
            return dict(state)
        time.sleep(0.2)
    raise AssertionError("the import did not finish")


def test_an_urgent_broadcast_is_never_locked_out_by_an_import_or_a_schedule_change(
    env: dict[str, str],
) -> None:
    schedule = _district()
    media = _stored_tone()
    server = LiveServer(env).start()
    try:
        admin = _admin(server)
        imported = _urgent_while(server, admin, media,
                                 lambda: _import(server, admin, _csv(30_000)))
        patched = _urgent_while(server, admin, media, lambda: httpx.patch(
            f"{server.url}/api/v1/schedules/{schedule}", headers=admin, timeout=300,
            json={"times": ["07:30", "12:30", "19:00"]}).raise_for_status())
    finally:
        server.stop()
    for label, answers in (("import", imported), ("schedule change", patched)):
        print(f"\nurgent POSTs during the {label}: {len(answers)}, slowest "
              f"{max(s for _, s in answers):.2f} s")
        assert len(answers) >= 2, f"the {label} ended before the broadcasts could overlap it"
        assert [status for status, _ in answers] == [201] * len(answers), label
        assert max(seconds for _, seconds in answers) < GENEROUS_S, label
    from app.areas.models import Area
    from app.playout.models import PlayOrder

    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Area)
                              .where(Area.code.like("n%"))) == 30_000
        issued = session.scalar(select(func.count()).select_from(PlayOrder).where(
            PlayOrder.schedule_id == schedule, PlayOrder.state == "issued"))
    assert issued == TOWNS * 100 * 3  # every village's orders follow the change


def test_a_server_stopped_during_an_import_exits_promptly_and_finishes_it_after_restart(
    env: dict[str, str],
) -> None:
    from app.areas.models import Area, AreaImport

    server = LiveServer(env, {"CUNXIANG_SCHEDULER": "true"}).start()
    try:
        admin = _admin(server)
        answer = httpx.post(server.url + "/api/v1/areas/import", content=_csv(30_000),
                            headers={**admin, "Content-Type": "text/csv"}, timeout=120)
        assert answer.status_code == 202, answer.text
        location = answer.headers["location"]
        deadline = time.monotonic() + 60
        while httpx.get(server.url + location, headers=admin).json()["done"] == 0:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert server.proc is not None
        stopping = time.monotonic()
        server.proc.terminate()  # SIGTERM
        server.proc.wait(30)
        took = time.monotonic() - stopping
        print(f"\nstopped {took:.2f} s after SIGTERM in the middle of an import")
        assert took < GENEROUS_S
        with session_scope() as session:
            job = session.scalar(select(AreaImport))
            assert job is not None and job.status == "running" and job.done < job.total

        server.start()  # the lease holder resumes it
        final = _poll(server, _admin(server), location)
    finally:
        server.stop()
    assert (final["status"], final["done"], final["created"]) == ("done", 30_000, 30_000)
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Area)) == 30_000
