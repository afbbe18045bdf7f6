"""The terminal's playout on its own (no server reachable): cuts and resumes, test mode,
orders leaving the program, restarts, and the player process being killed when cut."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.terminal.log import LogLine, parse_line
from app.terminal.runner import Terminal, TerminalConfig
from tests.conftest import free_port
from tests.playout.orders import probe_ms, tiny_mp3

# Orders start this long after the rig is made: time for a loaded machine to start the terminal.
LEAD = 1.0


class Rig:
    """A terminal whose server is unreachable, its cache pre-filled with a real tone."""

    def __init__(self, cache: Path, player: str | None = None) -> None:
        self.data = tiny_mp3(0.5)
        self.sha = hashlib.sha256(self.data).hexdigest()
        self.ms = probe_ms(self.data)
        self.cache_dir = cache
        self.player = player
        self.out = io.StringIO()
        self.t0 = datetime.now(UTC)

    def terminal(self) -> Terminal:
        """A fresh terminal on the rig's cache (a restart keeps the cache)."""
        config = TerminalConfig(server=f"http://127.0.0.1:{free_port()}", token="cxt_offline",
                                cache_dir=self.cache_dir, player=self.player,
                                heartbeat_s=60, retry_max_s=0.5)
        terminal = Terminal(config, stream=self.out)
        terminal.cache.store(self.sha, self.data)
        return terminal

    def order(self, order_id: str, start: float, *, items: int = 1, kind: str = "routine",
              level: int | None = None, mode: str = "actual") -> dict[str, Any]:
        """An order of the program, ``start`` seconds after the rig's lead time."""
        start_at = self.t0 + timedelta(seconds=LEAD + start)
        item = {"url": f"/media/{self.sha}", "sha256": self.sha, "duration_ms": self.ms}
        return {"id": order_id, "kind": kind, "mode": mode, "level": level,
                "priority": 5 - level if level else 0, "start_at": start_at.isoformat(),
                "not_after": (start_at + timedelta(minutes=15)).isoformat(), "loop": 1,
                "volume": 60, "title": order_id, "issued_at": self.t0.isoformat(),
                "duration_ms": self.ms * items, "media": [item] * items}

    def until(self, start: float) -> float:
        """Seconds from now until ``start`` (same reckoning as :meth:`order`)."""
        moment = self.t0 + timedelta(seconds=LEAD + start)
        return max(0.0, (moment - datetime.now(UTC)).total_seconds())

    def lines(self, *names: str) -> list[LogLine]:
        """Parsed log lines of these events (all when none named)."""
        parsed = [parse_line(raw) for raw in self.out.getvalue().splitlines()]
        return [p for p in parsed if p is not None and (not names or p.event in names)]

    def trail(self, *names: str) -> list[tuple[str, ...]]:
        """(event, order[, item]) of the log lines of these events, in order."""
        return [(p.event, p.fields.get("order") or "", *((p.fields["item"] or "",)
                 if p.event == "play" else ())) for p in self.lines(*names)]


async def _run(terminal: Terminal, seconds: float, during: Any = None) -> None:
    """Run the terminal, do ``during`` meanwhile, stop ``seconds`` later (after the lead)."""
    task = asyncio.create_task(terminal.run())
    await asyncio.sleep(LEAD)
    if during is not None:
        await during
    await asyncio.sleep(seconds)
    terminal.stop()
    assert await task == 0


def _drive(work: Any) -> None:
    """Run a coroutine to the end in a fresh thread (the test's own may have a loop running)."""
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(work)
        except BaseException as exc:  # handed back to the test below
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(60)
    if failure:
        raise failure[0]


def _program(*orders: dict[str, Any], version: int = 1) -> dict[str, Any]:
    return {"version": version, "server_time": datetime.now(UTC).isoformat(),
            "orders": list(orders)}


def _give(terminal: Terminal, program: dict[str, Any]) -> None:
    """Hand the terminal a program as its long-poll would (kept in the cache too)."""
    terminal.cache.save("program", program)
    terminal._apply_program(program, source="server")


def _receipts(terminal: Terminal) -> list[tuple[str, str]]:
    return [(r["order"], r["event"]) for r in terminal.outbox.receipts]


def test_an_urgent_order_cuts_a_routine_one_which_resumes_from_the_cut_items_start(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    terminal = rig.terminal()
    half = rig.ms / 2000
    _give(terminal, _program(rig.order("routine", 0, items=2),
                                     rig.order("alert", half, kind="urgent", level=1)))
    _drive(_run(terminal, 4 * rig.ms / 1000 + 0.5))
    assert rig.trail("play", "cut", "resumed", "finished") == [
        ("play", "routine", "0"), ("play", "alert", "0"), ("cut", "routine"),
        ("play", "routine", "0"), ("finished", "alert"), ("resumed", "routine"),
        ("play", "routine", "1"), ("finished", "routine")]
    plays = rig.lines("play")
    resumed_at = plays[2].at - datetime.fromisoformat(plays[1].fields["due"] or "")
    assert abs(resumed_at.total_seconds() - rig.ms / 1000) < 0.1  # right after the alert
    assert all(float(p.fields["late_ms"] or 0) < 100 for p in plays)
    assert _receipts(terminal) == [("routine", "started"), ("alert", "started"),
                                   ("alert", "finished"), ("routine", "finished")]
    # Offline, everything waits in the outbox on disk for the server.
    saved = terminal.cache.load("outbox")
    assert [r["order"] for r in saved["receipts"]] == ["routine", "alert", "alert", "routine"]


def test_a_test_mode_order_is_acknowledged_never_played_and_cuts_nothing(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    terminal = rig.terminal()
    _give(terminal, _program(rig.order("routine", 0, items=2),
                                     rig.order("drill", 0.3, kind="urgent", level=1, mode="test")))
    _drive(_run(terminal, 2 * rig.ms / 1000 + 0.5))
    assert rig.trail("play", "cut", "silent", "finished") == [
        ("play", "routine", "0"), ("silent", "drill"), ("play", "routine", "1"),
        ("finished", "routine")]
    acknowledged = [r for r in terminal.outbox.receipts if r["order"] == "drill"]
    assert [r["event"] for r in acknowledged] == ["started", "finished"]
    assert "not played aloud" in acknowledged[1]["detail"]


def test_an_order_that_leaves_the_program_stops_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    terminal = rig.terminal()
    routine = rig.order("routine", 0, items=3)
    _give(terminal, _program(routine))

    async def withdraw() -> None:
        await asyncio.sleep(rig.until(rig.ms / 1000 * 1.5))
        _give(terminal, _program(version=2))

    _drive(_run(terminal, 0.5, withdraw()))
    stop = rig.lines("stop")
    assert [(s.fields["order"], s.fields["reason"]) for s in stop] == [("routine", "withdrawn")]
    assert [p.fields["item"] for p in rig.lines("play")] == ["0", "1"]
    assert _receipts(terminal) == [("routine", "started"), ("routine", "preempted")]
    assert "withdrawn" in terminal.outbox.receipts[-1]["detail"]


def test_a_restart_plays_on_from_the_cache_without_replaying_what_finished(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    first = rig.terminal()
    _give(first, _program(rig.order("early", 0), rig.order("later", 2)))
    _drive(_run(first, rig.ms / 1000 + 0.3))
    assert rig.trail("play") == [("play", "early", "0")]
    # A new process, the server still unreachable: the cached program and progress.
    second = rig.terminal()
    _drive(_run(second, rig.until(2) - LEAD + rig.ms / 1000 + 0.3))
    assert rig.trail("play") == [("play", "early", "0"), ("play", "later", "0")]
    assert any(p.event == "program" and p.fields["source"] == "cache" for p in rig.lines())
    assert _receipts(second) == [("early", "started"), ("early", "finished"),
                                 ("later", "started"), ("later", "finished")]


PLAYER = """
import os, sys, time
with open(sys.argv[1], "a") as record:
    record.write(f"{os.getpid()} {sys.argv[2]} {sys.argv[3]}\\n")
time.sleep(30)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_player_process_is_killed_when_its_order_is_cut(tmp_path: Path) -> None:
    script, record = tmp_path / "player.py", tmp_path / "played.txt"
    script.write_text(PLAYER)
    rig = Rig(tmp_path / "cache", player=f"{sys.executable} {script} {record} {{volume}}")
    terminal = rig.terminal()
    _give(terminal, _program(rig.order("routine", 0, items=2),
                                     rig.order("alert", 0.25, kind="urgent", level=2)))

    async def check_while_playing() -> None:
        await asyncio.sleep(rig.until(0.5))
        started = [line.split() for line in record.read_text().splitlines()]
        assert [(volume, Path(file).name) for _, volume, file in started] == [
            ("60", f"{rig.sha}.mp3"), ("60", f"{rig.sha}.mp3")]
        cut, alert = (int(pid) for pid, _, _ in started)
        assert not _alive(cut) and _alive(alert)

    _drive(_run(terminal, 0.1, check_while_playing()))
    last = int(record.read_text().split()[-3])
    assert not _alive(last)  # stopping the terminal silences the player too


def test_an_order_waits_for_its_media_and_starts_when_it_arrives(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    terminal = rig.terminal()
    late = tiny_mp3(0.5, 660)
    sha = hashlib.sha256(late).hexdigest()
    urgent = rig.order("alert", 0, kind="urgent", level=1)
    urgent["media"] = [{**urgent["media"][0], "sha256": sha}]
    never = rig.order("never", 0.2)
    never["media"] = [{**never["media"][0], "sha256": "0" * 64}]  # will never download
    _give(terminal, _program(urgent, never))

    async def download_late() -> None:
        await asyncio.sleep(rig.until(0.4))
        terminal.cache.store(sha, late)
        terminal.media_arrived(sha)  # what the download task does

    _drive(_run(terminal, rig.ms / 1000 + 0.5, download_late()))
    assert rig.trail("waiting-media") == [("waiting-media", "alert"), ("waiting-media", "never")]
    play = rig.lines("play")
    assert [p.fields["order"] for p in play] == ["alert"]
    assert abs((play[0].at - rig.t0).total_seconds() - (LEAD + 0.4)) < 0.3  # on arrival
    # The one that never got its file sent nothing: the server will log it as missed.
    assert _receipts(terminal) == [("alert", "started"), ("alert", "finished")]
