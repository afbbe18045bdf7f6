"""The terminal's parts: its log format, clock correction, verified cache, outbox, receipts."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.playout.priority import PlayEvent
from app.terminal.cache import MediaCache, VerifyError
from app.terminal.clock import ServerClock
from app.terminal.log import format_line, parse_line
from app.terminal.outbox import MAX_QUEUED_HEARTBEATS, Outbox
from app.terminal.receipts import receipts_for
from tests.playout.orders import tiny_mp3

T = datetime(2026, 3, 1, 7, 0, tzinfo=UTC)


def test_log_lines_read_back_whatever_the_values() -> None:
    line = format_line(T, "play", {"order": "ord_1", "title": '村里 "通知" a=b', "late_ms": 12.5,
                                   "missing": None, "dry_run": True, "due": T})
    parsed = parse_line(line)
    assert parsed is not None and parsed.event == "play" and parsed.at == T
    assert parsed.fields == {"order": "ord_1", "title": '村里 "通知" a=b', "late_ms": "12.500",
                             "missing": None, "dry_run": "true", "due": T.isoformat(
                                 timespec="microseconds")}
    assert parse_line("Traceback (most recent call last):") is None


def test_the_clock_takes_the_offset_of_the_quickest_round_trip() -> None:
    clock = ServerClock()
    ms = lambda n: timedelta(milliseconds=n)  # noqa: E731
    # The server is 2 s ahead; a quick trip shows it, a long-poll that waited does not count.
    assert clock.observe(T + ms(2050), T, T + ms(100))
    assert abs(clock.offset - ms(2000)) < ms(1)
    assert not clock.observe(T + ms(30000), T, T + ms(25000))
    # A heartbeat the server took 500 ms to answer: with its arrival time the sample is exact
    # (the server's work is left out); without it the midpoint would be 250 ms off.
    assert not clock.observe(T + ms(2510), T, T + ms(520))
    assert clock.observe(T + ms(2510), T, T + ms(520), server_received=T + ms(2010))
    assert abs(clock.offset - ms(2000)) < ms(1)
    assert not clock.observe(T + ms(2400), T, T + ms(800), server_received=T + ms(2390))
    assert clock.observe(T + ms(2120), T, T + ms(30), server_received=T + ms(2100))
    assert abs(clock.offset - ms(2095)) < ms(1)  # delay 10 ms: the best sample so far
    assert abs(clock.now() - datetime.now(UTC) - ms(2095)) < timedelta(seconds=1)


def test_the_cache_keeps_only_verified_files(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    data = tiny_mp3(0.5)
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(VerifyError):
        cache.store(sha, data[:-10])  # a cut transfer
    assert not cache.has(sha) and list(cache.media_dir.iterdir()) == []
    assert cache.store(sha, data) == len(data)
    assert cache.has(sha) and cache.verify(sha)
    cache.path(sha).write_bytes(b"rot")
    assert not cache.verify(sha) and not cache.has(sha)
    cache.store(sha, data)
    other = tiny_mp3(0.5, 880)
    cache.store(hashlib.sha256(other).hexdigest(), other)
    assert cache.prune([sha]) == [hashlib.sha256(other).hexdigest()]
    assert cache.has(sha)
    with pytest.raises(VerifyError):
        cache.path("../../etc/passwd")


def test_the_outbox_survives_a_restart_and_stays_bounded(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path)
    outbox = Outbox()
    outbox.add_receipts([{"order": "o1", "event": "started", "at": T.isoformat()}])
    for n in range(MAX_QUEUED_HEARTBEATS + 5):
        outbox.add_heartbeat({"status": "ok", "power": "battery", "at": str(n)})
    cache.save("outbox", outbox.snapshot())
    again = Outbox.restore(cache.load("outbox"))
    assert again.receipts == outbox.receipts
    assert len(again.heartbeats) == MAX_QUEUED_HEARTBEATS and again.heartbeats[0]["at"] == "5"
    again.drop_receipts(again.next_receipts())
    assert len(again) == MAX_QUEUED_HEARTBEATS
    assert len(Outbox.restore("garbage")) == 0


@pytest.mark.parametrize(("event", "started", "problem", "expected"), [
    ("started", False, None, [("started", None)]),
    ("finished", True, None, [("finished", None)]),
    ("finished", True, "media x was not cached", [("failed", "media x was not cached")]),
    ("preempted", True, None, [("preempted", "cut by a higher priority; no time left to resume")]),
    ("expired", True, None, [("preempted", "not_after reached before the end")]),
    ("withdrawn", True, None, [("preempted", "withdrawn: left the program while playing")]),
    ("withdrawn", False, None, []),
    ("missed", False, None, []),
    ("cut", True, None, []),
    ("resumed", True, None, []),
    ("silent", False, None, [("started", None),
                             ("finished", "test mode: acknowledged, not played aloud")]),
])
def test_which_receipts_each_playout_event_becomes(
    event: str, started: bool, problem: str | None, expected: list[tuple[str, str | None]]
) -> None:
    receipts = receipts_for(PlayEvent("ord_1", event, T), started=started, problem=problem)
    assert [(r["event"], r.get("detail")) for r in receipts] == expected
    assert all(r["order"] == "ord_1" and datetime.fromisoformat(r["at"]) == T for r in receipts)
