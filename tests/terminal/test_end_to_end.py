"""A real server, a real schedule and the reference terminal in a subprocess (``--dry-run``).

Shows SPEC §7 end to end: the terminal plays a schedule on time and its receipt reaches
the playlog; with the server stopped it still plays, and delivers the receipts once the
server is back; a moved speaker gets its new village's program at once; a rotated token's
predecessor is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, District, LiveServer, login
from tests.playout.orders import bearer, insert_order, register, store_media
from tests.schedules.conftest import Content, orders
from tests.terminal.helpers import TerminalProcess, lateness, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ZONE = ZoneInfo("Asia/Shanghai")


def _quiet_hours_elsewhere() -> str:
    """Quiet hours twelve hours away, so a schedule due now is allowed whenever the test runs."""
    start = datetime.now(ZONE) + timedelta(hours=12)
    return f"{start:%H:%M}-{start + timedelta(minutes=30):%H:%M}"


def _next_minute(at_least: float) -> datetime:
    """The first whole local minute at least ``at_least`` seconds ahead (schedules say HH:MM)."""
    moment = datetime.now(ZONE) + timedelta(seconds=at_least)
    return (moment + timedelta(minutes=1)).replace(second=0, microsecond=0) \
        if moment.second or moment.microsecond else moment


def _playlog(http: httpx.Client, admin: dict[str, str], village: str) -> list[dict[str, Any]]:
    response = http.get(f"/api/v1/playlog?village={village}", headers=admin)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _played(http: httpx.Client, admin: dict[str, str], village: str, order: str) -> bool:
    return any(i["order"] == order and i["result"] == "played"
               for i in _playlog(http, admin, village))


def test_the_terminal_plays_on_time_through_an_outage_and_follows_moves(
    env: dict[str, str], tmp_path: Path
) -> None:
    server = LiveServer(env, {"CUNXIANG_QUIET_HOURS": _quiet_hours_elsewhere()}).start(timeout=90)
    terminal: TerminalProcess | None = None
    http = httpx.Client(base_url=server.url, timeout=30)
    try:
        admin = login(http, "admin", ADMIN_PASSWORD)  # type: ignore[arg-type]
        district = District(http, admin)  # type: ignore[arg-type]
        playlist = Content(http, district).ready_playlist(body="村民们请注意，今晚停水。")  # type: ignore[arg-type]
        speaker = register(http, admin, "v11", "E2E-1")

        # A real schedule for the next whole minute (schedules are HH:MM), issued at once.
        due = _next_minute(at_least=12)
        schedule = http.post("/api/v1/schedules", headers=admin, json={
            "name": "停水通知", "playlist": playlist["id"], "targets": ["v11"],
            "times": [f"{due:%H:%M}"]})
        assert schedule.status_code == 201, schedule.text
        (scheduled,) = [o for o in orders(schedule_id=schedule.json()["id"])
                        if o.start_at == due.astimezone(UTC)]

        terminal = TerminalProcess(server.url, speaker["token"], tmp_path / "cache",
                                   "--dry-run", "--heartbeat", "2", "--wait", "3")
        terminal.wait_for("program", ids=scheduled.id)

        # Meanwhile: an order a few seconds ahead, then the server goes away before it starts.
        tone = store_media(1.0)
        start = datetime.now(UTC) + timedelta(seconds=7)
        busy_until = due + timedelta(milliseconds=scheduled.loop * scheduled.duration_ms + 1000)
        if due - timedelta(seconds=3) < start < busy_until:  # never in the schedule's way
            start = busy_until + timedelta(seconds=1)
        offline = insert_order("v11", start, [tone], title="断网也要播")
        terminal.wait_for("program", timeout=10, ids=f"{offline},{scheduled.id}")
        terminal.wait_for("download", sha256=tone["sha256"])
        server.stop()
        terminal.wait_for("offline")
        played = terminal.wait_for("play", timeout=15, order=offline)
        assert -0.05 <= lateness(played) <= 1.0, terminal.log()
        terminal.wait_for("receipt", order=offline, event="finished")
        server.start(timeout=90)  # same database, same port
        wait_until(lambda: _played(http, admin, "v11", offline), timeout=20)
        assert terminal.events("online")

        # The schedule's occurrence plays on time and its receipt reaches the playlog.
        timely = terminal.wait_for("play", timeout=100, order=scheduled.id)
        assert -0.05 <= lateness(timely) <= 1.0, terminal.log()
        assert timely.fields["item"] == "0" and timely.fields["kind"] == "routine"
        wait_until(lambda: _played(http, admin, "v11", scheduled.id), timeout=20)
        entry = next(i for i in _playlog(http, admin, "v11") if i["order"] == scheduled.id)
        assert entry["serial"] == "E2E-1" and entry["schedule"] == schedule.json()["id"]
        assert abs(datetime.fromisoformat(entry["started_at"]) - due) < timedelta(seconds=1)

        # Moved to another village: the long-poll answers at once with that village's program.
        elsewhere = insert_order("v12", datetime.now(UTC) + timedelta(hours=1), [tone])
        moved = http.patch(f"/api/v1/speakers/{speaker['id']}", headers=admin,
                           json={"village": "v12"})
        assert moved.status_code == 200, moved.text
        program = terminal.wait_for("program", timeout=5, ids=elsewhere)
        assert program.fields["source"] == "server"

        # A rotated token: the old one is refused at once, the terminal says so in its log.
        rotated = http.post(f"/api/v1/speakers/{speaker['id']}/token", headers=admin)
        assert rotated.status_code == 200
        refused = http.get(f"{server.url}/terminal/v1/program", headers=bearer(speaker["token"]))
        assert refused.status_code == 401
        terminal.wait_for("unauthorized", timeout=10)
        assert http.get("/terminal/v1/program",
                        headers=bearer(rotated.json()["token"])).status_code == 200

        assert terminal.stop() == 0
        assert terminal.events("shutdown")
    finally:
        if terminal is not None:
            terminal.stop()
        http.close()
        server.stop()
