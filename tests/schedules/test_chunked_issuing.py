"""Changes to schedules over many villages: re-issued a chunk of villages per transaction,
before the answer; resumed by the lease holder if stopped half-way; top-ups in chunks too.

``INLINE_VILLAGES`` is lowered to 1 and chunks hold one village, so the small test district
(v11, v12 in t1; v21 in t2) goes through the same paths as 16,000 villages would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import session_scope, utcnow
from tests.schedules.conftest import Content, local, orders

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_5AM = datetime(2025, 1, 6, 5, 0, tzinfo=SHANGHAI)
VILLAGES = ("v11", "v12", "v21")


@pytest.fixture
def chunked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Every change beyond one village goes in chunks of one village; the stop flag is
    cleared afterwards."""
    from app.runtime import chunked as chunked_module
    from app.schedules import issuing

    monkeypatch.setattr(issuing, "INLINE_VILLAGES", 1)
    monkeypatch.setattr(issuing, "PASS_CHUNK", (1, 1, 1))
    monkeypatch.setattr(issuing, "TOP_UP_CHUNK", (1, 1, 1))
    yield chunked_module
    chunked_module.reset_stop()


@contextmanager
def stop_after(chunks: int) -> Iterator[None]:
    """SIGTERM's effect once ``chunks`` chunks have changed orders (each bumps versions)."""
    from app.runtime import events
    from app.runtime.chunked import request_stop

    seen = [0]

    def count(session: Any, **_: Any) -> None:
        seen[0] += 1
        if seen[0] == chunks:
            request_stop()

    events.subscribe("orders.changed", count)
    try:
        yield
    finally:
        events.unsubscribe("orders.changed", count)


def _pending() -> int:
    from app.schedules.models import PendingReissue

    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(PendingReissue)) or 0


def _schedule(client: TestClient, admin: dict[str, str], playlist: str, **body: Any) -> str:
    answer = client.post("/api/v1/schedules", headers=admin, json={
        "name": "全区", "playlist": playlist, "targets": ["d1"], "times": ["07:00", "12:00"],
        **body})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _by_village() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for order in orders():
        found.setdefault(order.village_code, []).append(local(order.start_at))
    return found


def test_a_change_over_many_villages_is_in_place_when_the_answer_arrives(
    client: TestClient, admin: dict[str, str], content: Content, chunked: Any,
) -> None:
    playlist = content.ready_playlist()["id"]
    with time_machine.travel(MONDAY_5AM, tick=False):
        schedule = _schedule(client, admin, playlist)
        assert _by_village() == {v: ["01-06 07:00", "01-06 12:00"] for v in VILLAGES}
        changed = client.patch(f"/api/v1/schedules/{schedule}", headers=admin,
                               json={"times": ["08:00"], "volume": 40})
        assert changed.status_code == 200, changed.text
    assert _by_village() == {v: ["01-06 08:00"] for v in VILLAGES}
    assert all(o.volume == 40 for o in orders())
    assert len(orders("withdrawn")) == 6
    assert _pending() == 0


def test_a_change_stopped_half_way_is_finished_by_the_lease_holder(
    client: TestClient, admin: dict[str, str], content: Content, chunked: Any,
) -> None:
    from app.schedules.issuing import resume_pending_reissues

    playlist = content.ready_playlist()["id"]
    with time_machine.travel(MONDAY_5AM, tick=False):
        schedule = _schedule(client, admin, playlist)
        with stop_after(1):  # SIGTERM arrives while the change is being re-issued
            changed = client.patch(f"/api/v1/schedules/{schedule}", headers=admin,
                                   json={"times": ["08:00"]})
        assert changed.status_code == 200, changed.text  # the change itself is committed
        half = _by_village()
        assert half["v11"] == ["01-06 08:00"]  # first chunk done, then the process stopped
        assert half["v21"] == ["01-06 07:00", "01-06 12:00"]
        assert _pending() == 1

        chunked.reset_stop()  # the next lease holder finds it once it is stale
        assert resume_pending_reissues() == 0  # a pass may still be at work: not yet
        assert resume_pending_reissues(now=utcnow() + timedelta(seconds=20)) == 1
    assert _by_village() == {v: ["01-06 08:00"] for v in VILLAGES}
    assert _pending() == 0


def test_a_pass_for_an_older_change_stops_when_a_newer_one_supersedes_it(
    client: TestClient, admin: dict[str, str], content: Content, chunked: Any,
) -> None:
    from app.schedules.issuing import reissue_in_chunks

    playlist = content.ready_playlist()["id"]
    with time_machine.travel(MONDAY_5AM, tick=False):
        schedule = _schedule(client, admin, playlist)
        before = [(o.id, o.state) for o in orders(None)]
        report = reissue_in_chunks(schedule, "rei_an_older_change")
    assert report.issued == report.withdrawn == 0
    assert [(o.id, o.state) for o in orders(None)] == before


def test_deleting_a_schedule_over_many_villages_withdraws_all_its_future_orders(
    client: TestClient, admin: dict[str, str], content: Content, chunked: Any,
) -> None:
    playlist = content.ready_playlist()["id"]
    with time_machine.travel(MONDAY_5AM, tick=False):
        schedule = _schedule(client, admin, playlist)
        assert client.delete(f"/api/v1/schedules/{schedule}", headers=admin).status_code == 204
    assert orders() == [] and len(orders("withdrawn")) == 6
    assert _pending() == 0


def test_a_top_up_in_chunks_issues_each_order_once_even_when_stopped_half_way(
    client: TestClient, admin: dict[str, str], content: Content, chunked: Any,
) -> None:
    from app.runtime.chunked import Interrupted
    from app.schedules.issuing import top_up_all
    from app.schedules.models import Schedule

    playlist = content.ready_playlist()["id"]
    with time_machine.travel(MONDAY_5AM, tick=False) as traveller:
        schedule = _schedule(client, admin, playlist)
        with session_scope() as session:
            through = session.get(Schedule, schedule).issued_through  # type: ignore[union-attr]
        traveller.move_to(datetime(2025, 1, 6, 7, 0, 30, tzinfo=SHANGHAI))  # 07:00 tomorrow is due

        with stop_after(2), pytest.raises(Interrupted):
            top_up_all()
        with session_scope() as session:  # not advanced: the next run does the rest
            assert session.get(Schedule, schedule).issued_through == through  # type: ignore[union-attr]
        chunked.reset_stop()
        assert top_up_all().issued == 1  # the third village only
        assert top_up_all().issued == 0
    assert _by_village() == {v: ["01-06 07:00", "01-06 12:00", "01-07 07:00"]
                             for v in VILLAGES}
