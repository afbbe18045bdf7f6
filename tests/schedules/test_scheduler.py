"""The scheduler: the database lease, leader-only jobs, schedule-time jobs and readiness."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import delete

from app.config import reset_settings
from app.db import session_scope
from app.playout.models import PlayOrder
from app.runtime.jobs import LeaderJob
from app.runtime.lease import acquire_lease, lease_state, release_lease
from app.runtime.scheduler import SchedulerRuntime
from app.schedules.jobs import run_time_of_day
from app.wiring import LEADER_JOBS
from tests.schedules.conftest import Content, local, orders

T0 = datetime(2025, 1, 6, 0, 0, tzinfo=UTC)
TTL = timedelta(seconds=30)


def take(holder: str, now: datetime) -> datetime | None:
    """One process's attempt to take or renew the lease at ``now``."""
    with session_scope() as session:
        return acquire_lease(session=session, name="scheduler", holder=holder, ttl=TTL, now=now)


def test_the_lease_is_held_by_one_process_and_taken_over_when_it_expires(
    env: dict[str, str],
) -> None:
    assert take("a", T0) == T0 + TTL
    assert take("b", T0 + timedelta(seconds=5)) is None
    assert take("a", T0 + timedelta(seconds=10)) == T0 + timedelta(seconds=40)  # renewed
    # "a" dies: nobody renews. "b" keeps trying every 10 s and gets it once it has expired.
    assert take("b", T0 + timedelta(seconds=39)) is None
    assert take("b", T0 + timedelta(seconds=41)) == T0 + timedelta(seconds=71)
    assert take("a", T0 + timedelta(seconds=45)) is None  # back from the dead: too late
    with session_scope() as session:
        state = lease_state(session=session, name="scheduler")
        assert state is not None and (state.holder, state.acquired_at) == (
            "b", T0 + timedelta(seconds=41))
        assert release_lease(session=session, name="scheduler", holder="b",
                             now=T0 + timedelta(seconds=50))
    assert take("a", T0 + timedelta(seconds=50)) is not None  # released: taken at once


def test_processes_racing_for_the_lease_never_both_hold_it(env: dict[str, str]) -> None:
    assert take("old", T0) is not None
    for round_start in (T0 + timedelta(seconds=31), T0 + timedelta(seconds=62)):
        barrier = threading.Barrier(6)
        winners: list[str] = []

        def contend(holder: str, now: datetime = round_start,
                    barrier: threading.Barrier = barrier, winners: list[str] = winners) -> None:
            barrier.wait()
            if take(holder, now) is not None:
                winners.append(holder)

        threads = [threading.Thread(target=contend, args=(f"p{i}",)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert len(winners) == 1, winners


@pytest.fixture
def counted_job() -> list[float]:
    """When the test's own leader job ran."""
    return []


def wait_for(condition: Callable[[], bool], timeout: float = 15) -> None:
    """Poll until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_only_the_lease_holder_runs_leader_jobs_and_another_takes_over(
    env: dict[str, str], counted_job: list[float],
) -> None:
    jobs = [*LEADER_JOBS, LeaderJob("test.counted", lambda: counted_job.append(time.monotonic()),
                                    seconds=0.2)]
    fast = {"renew_every": timedelta(seconds=0.2), "ttl": timedelta(seconds=6)}
    first = SchedulerRuntime(jobs=jobs, holder="first", **fast)  # type: ignore[arg-type]
    second = SchedulerRuntime(jobs=jobs, holder="second", **fast)  # type: ignore[arg-type]
    first.start()
    try:
        wait_for(lambda: first.is_leader and "leader:test.counted" in first.job_ids())
        second.start()
        wait_for(lambda: len(counted_job) >= 2)
        time.sleep(0.5)  # second has ticked a few times by now
        assert not second.is_leader
        assert "leader:test.counted" not in second.job_ids()
        assert "leader:schedules.horizon" in first.job_ids()

        first.stop()  # a clean stop releases the lease: second takes it at its next tick
        stopped = len(counted_job)
        wait_for(lambda: second.is_leader and "leader:test.counted" in second.job_ids(),
                 timeout=5)
        wait_for(lambda: len(counted_job) > stopped)
        assert first.job_ids() == []
    finally:
        first.stop()
        second.stop()


def test_a_time_of_day_job_tops_up_and_issues_an_order_a_village_lacks(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    zone = ZoneInfo("Asia/Shanghai")
    with time_machine.travel(datetime(2025, 1, 6, 5, 0, tzinfo=zone), tick=False) as traveller:
        for name, targets, times in (("补发", ["t1"], ["07:00", "18:30"]),
                                     ("西镇", ["t2"], ["07:00"]),
                                     ("晚些", ["v21"], ["08:00"])):
            response = client.post("/api/v1/schedules", headers=admin, json={
                "name": name, "playlist": playlist["id"], "targets": targets, "times": times})
            assert response.status_code == 201, response.text
        with session_scope() as session:  # an order lost somehow
            session.execute(delete(PlayOrder).where(PlayOrder.village_code == "v12"))
        traveller.move_to(datetime(2025, 1, 6, 7, 0, 2, tzinfo=zone))
        run_time_of_day()
    # The slot starting now is issued to v12 again; tomorrow's 07:00 entered the horizon for
    # both schedules playing at 07:00 (not for the 08:00 one: its turn comes at 08:00).
    assert [local(o.start_at) for o in orders(village_code="v12")] == ["01-06 07:00",
                                                                       "01-07 07:00"]
    assert [local(o.start_at) for o in orders(village_code="v11")] == [
        "01-06 07:00", "01-06 18:30", "01-07 07:00"]
    assert [local(o.start_at) for o in orders(village_code="v21")] == [
        "01-06 07:00", "01-06 08:00", "01-07 07:00"]


def test_readyz_reports_the_scheduler(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from app.main import create_app

    monkeypatch.setenv("CUNXIANG_SCHEDULER", "true")
    reset_settings()
    with TestClient(create_app()) as client:
        body = client.get("/readyz").json()
        assert body["checks"]["scheduler"] == "ok"
        client.app.state.scheduler.stop()  # type: ignore[attr-defined]
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"]["scheduler"] == "stopped"
