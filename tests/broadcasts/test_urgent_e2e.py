"""Urgent broadcasts end to end: a real server and the reference terminal (``--dry-run``).

One village (v11) runs a terminal in a subprocess, its neighbour (v12) has a speaker that
is never heard. Shown from the terminal's own log: a level II broadcast cuts the running
routine loop at once, a level III one waits behind it, the routine loop resumes after
both; a ``test`` broadcast is acknowledged and never played; a cancelled broadcast stops
in the terminal; and the broadcast's status names v12 ``unreachable``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.terminal.log import LogLine
from tests.conftest import ADMIN_PASSWORD, District, LiveServer, login
from tests.playout.orders import insert_order, register, store_media
from tests.terminal.helpers import TerminalProcess, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _broadcast(http: httpx.Client, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    request = {"title": "紧急通知", "level": 2, "targets": ["v11"], **body}
    response = http.post("/api/v1/broadcasts", headers=admin, json=request)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _order(broadcast: dict[str, Any], village: str = "v11") -> str:
    return next(v["order"] for v in broadcast["villages"] if v["code"] == village)


def _village(
    http: httpx.Client, admin: dict[str, str], broadcast: dict[str, Any], village: str = "v11"
) -> dict[str, Any]:
    shown = http.get(f"/api/v1/broadcasts/{broadcast['id']}", headers=admin).json()
    return next(v for v in shown["villages"] if v["code"] == village)


def _index(terminal: TerminalProcess, event: str, **fields: str) -> int:
    """Position of the first matching line among the terminal's parsed lines."""
    lines = terminal.events()
    return next(
        i
        for i, line in enumerate(lines)
        if line.event == event and all(line.fields.get(k) == v for k, v in fields.items())
    )


def _at(line: LogLine) -> datetime:
    """When a playout event happened (its ``at`` field, the terminal's clock)."""
    return datetime.fromisoformat(str(line.fields["at"]))


def _plays(terminal: TerminalProcess, order: str) -> list[LogLine]:
    return terminal.events("play", order=order)


def test_urgent_broadcasts_cut_in_queue_by_level_test_silently_and_stop_when_cancelled(
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    server = LiveServer(env).start(timeout=90)
    http = httpx.Client(base_url=server.url, timeout=30)
    terminal: TerminalProcess | None = None
    try:
        admin = login(http, "admin", ADMIN_PASSWORD)  # type: ignore[arg-type]
        District(http, admin)  # type: ignore[arg-type]
        speaker = register(http, admin, "v11", "URG-1")
        register(http, admin, "v12", "URG-SILENT")  # never heard: its village is unreachable
        tone_3s, tone_2s, tone_1s = (
            store_media(3.0, 440),
            store_media(2.0, 660),
            store_media(1.0, 880),
        )

        # The urgent audio is already in the terminal's cache (an order for tonight holds it):
        # the reference terminal starts an urgent order at once, before a download could end.
        insert_order("v11", datetime.now(UTC) + timedelta(hours=6), [tone_2s, tone_1s])
        # A routine loop: three times a 3-second item, starting as the terminal comes up.
        routine = insert_order("v11", datetime.now(UTC) + timedelta(seconds=2), [tone_3s], loop=3)
        terminal = TerminalProcess(
            server.url,
            speaker["token"],
            tmp_path / "cache",
            "--dry-run",
            "--heartbeat",
            "1",
            "--wait",
            "5",
        )
        terminal.wait_for("play", timeout=30, order=routine)
        for tone in (tone_2s, tone_1s):
            terminal.wait_for("download", timeout=10, sha256=tone["sha256"])

        # Level II cuts the routine loop at once; level III, sent right after, waits behind it.
        posted = time.monotonic()
        second = _broadcast(http, admin, targets=["t1"], media=tone_2s["sha256"])
        third = _broadcast(http, admin, level=3, media=tone_1s["sha256"])
        cut_in = terminal.wait_for("play", timeout=10, order=_order(second))
        assert time.monotonic() - posted < 3, terminal.log()
        queued = terminal.wait_for("play", timeout=15, order=_order(third))
        third_done = terminal.wait_for("finished", timeout=15, order=_order(third))
        resumed = terminal.wait_for("resumed", timeout=15, order=routine)
        cut = terminal.wait_for("cut", order=routine)
        second_done = terminal.wait_for("finished", order=_order(second))
        assert _at(cut) <= cut_in.at  # the routine item stopped, then level II began
        assert _index(terminal, "stop", order=routine, reason="cut") < _index(
            terminal, "play", order=_order(second)
        )
        assert _at(second_done) <= queued.at  # level III only after level II was done
        assert queued.at - _at(second_done) < timedelta(seconds=0.5)
        assert _at(resumed) >= _at(third_done)  # the routine loop came back after both
        before = [p for p in _plays(terminal, routine) if p.at <= _at(cut)]
        again = [p for p in _plays(terminal, routine) if p.at >= _at(resumed)]
        # It resumes from the start of the item (and loop) it was cut in.
        assert (again[0].fields["loop"], again[0].fields["item"]) == (
            before[-1].fields["loop"],
            "0",
        )
        assert cut_in.fields["kind"] == "urgent" and cut_in.fields["mode"] == "actual"
        terminal.wait_for("finished", timeout=40, order=routine)  # the loop completes after all

        # The terminal's receipts arrive: v11 played; v12's speaker was never heard.
        wait_until(lambda: _village(http, admin, second)["state"] == "played", timeout=20)
        silent = _village(http, admin, second, "v12")
        assert silent["state"] == "unreachable"
        assert silent["speakers"] == {"total": 1, "online": 0, "confirmed": 0}
        assert _village(http, admin, second)["speakers"]["online"] == 1
        wait_until(
            lambda: (
                http.get(f"/api/v1/broadcasts/{third['id']}", headers=admin).json()["status"]
                == "finished"
            ),
            timeout=20,
        )

        # A test broadcast: delivered and acknowledged, never played aloud.
        test = _broadcast(http, admin, level=1, mode="test", media=tone_2s["sha256"])
        terminal.wait_for("silent", timeout=10, order=_order(test))
        wait_until(lambda: _village(http, admin, test)["state"] == "played", timeout=20)
        assert "never played aloud" in (_village(http, admin, test)["detail"] or "")
        assert _plays(terminal, _order(test)) == []

        # Cancel: the terminal stops the broadcast it is playing.
        long = _broadcast(http, admin, level=1, media=tone_2s["sha256"], loop=10)
        terminal.wait_for("play", timeout=10, order=_order(long))
        cancelled = http.post(f"/api/v1/broadcasts/{long['id']}/cancel", headers=admin)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        stopped = terminal.wait_for("stop", timeout=10, order=_order(long))
        time.sleep(2.5)  # longer than an item: had it gone on, it would have played again
        assert all(p.at < stopped.at for p in _plays(terminal, _order(long)))
        assert len(_plays(terminal, _order(long))) < 10
        wait_until(
            lambda: _village(http, admin, long)["detail"] == "cancelled while it was playing",
            timeout=20,
        )
        assert _village(http, admin, long)["state"] == "failed"
        assert _plays(terminal, _order(test)) == []
        assert terminal.stop() == 0
    finally:
        if terminal is not None:
            terminal.stop()
        http.close()
        server.stop()
