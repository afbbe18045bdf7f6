"""Background services: started in order, hearing their events only while they run, stopped
in reverse; periodic tasks; the claimed-row worker's loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from app.db import session_scope
from app.runtime import events
from app.runtime.services import PeriodicTask, Running, Services
from app.runtime.worker import ClaimedRowWorker


class Recorder:
    """A service that notes its start and stop in a shared log."""

    def __init__(self, name: str, log: list[str], fail_start: bool = False) -> None:
        self.name, self.log, self.fail_start = name, log, fail_start

    async def start(self) -> None:
        if self.fail_start:
            raise RuntimeError(f"{self.name} cannot start")
        self.log.append(f"start {self.name}")

    def stop(self) -> None:  # a plain method: services may be either
        self.log.append(f"stop {self.name}")

    def heard(self, session: Any, **data: Any) -> None:
        self.log.append(f"{self.name} heard {data}")


def test_services_start_in_order_hear_while_running_and_stop_in_reverse() -> None:
    log: list[str] = []
    first, second = Recorder("first", log), Recorder("second", log)
    services = Services([Running("first", first, hears=[("test.ping", first.heard)]),
                         Running("second", second)])

    async def run() -> None:
        await services.start()
        events.emit(None, "test.ping", n=1)  # type: ignore[arg-type]
        await services.stop()
        events.emit(None, "test.ping", n=2)  # type: ignore[arg-type]

    asyncio.run(run())
    assert log == ["start first", "start second", "first heard {'n': 1}", "stop second",
                   "stop first"]
    assert services["second"] is second
    assert events.subscribers("test.ping") == ()


def test_a_service_that_fails_to_start_stops_those_started_before_it() -> None:
    log: list[str] = []
    first = Recorder("first", log)
    services = Services([Running("first", first, hears=[("test.ping", first.heard)]),
                         Running("broken", Recorder("broken", log, fail_start=True)),
                         Running("never", Recorder("never", log))])
    with pytest.raises(RuntimeError, match="broken cannot start"):
        asyncio.run(services.start())
    assert log == ["start first", "stop first"]
    assert events.subscribers("test.ping") == ()


def test_a_periodic_task_keeps_going_after_a_failure_and_runs_its_final_call() -> None:
    calls: list[str] = []

    def work() -> None:
        calls.append("work")
        if len(calls) == 1:
            raise OSError("a disk hiccup")

    async def run() -> None:
        task = PeriodicTask("test task", work, every_s=0.01, first_after_s=0,
                            final=lambda: calls.append("final"))
        await task.start()
        while calls.count("work") < 3:
            await asyncio.sleep(0.01)
        await task.stop()

    asyncio.run(run())
    assert calls.count("work") >= 3 and calls[-1] == "final" and calls.count("final") == 1


class ListQueue(ClaimedRowWorker[int]):
    """Rows are numbers in a list; handling one waits for the test to let it finish."""

    name = "test-worker"

    def __init__(self, rows: list[int], concurrency: int) -> None:
        super().__init__(concurrency=concurrency, poll_s=30.0)
        self.rows, self.lock = rows, threading.Lock()
        self.handled: list[int] = []
        self.busy_most = 0
        self.release = asyncio.Event()

    def claim(self, limit: int) -> list[int]:
        with self.lock:
            taken, self.rows[:] = self.rows[:limit], self.rows[limit:]
        return taken

    async def handle(self, item: int) -> None:
        self.busy_most = max(self.busy_most, self._busy)
        await self.release.wait()
        self.handled.append(item)


def test_the_worker_holds_concurrency_rows_at_once_and_wakes_on_a_commit(
    env: dict[str, str],
) -> None:
    async def run() -> ListQueue:
        worker = ListQueue(list(range(5)), concurrency=2)
        await worker.start()
        await asyncio.sleep(0.05)
        assert worker.handled == [] and worker.busy_most == 2  # two claimed, three wait
        worker.release.set()
        while len(worker.handled) < 5:
            await asyncio.sleep(0.01)
        # Idle now, sleeping up to 30 s: a row queued in a transaction wakes it at the commit.
        worker.rows.append(99)
        await asyncio.to_thread(_commit_waking, worker)
        async with asyncio.timeout(5):
            while 99 not in worker.handled:
                await asyncio.sleep(0.01)
        await worker.stop()
        return worker

    worker = asyncio.run(run())
    assert sorted(worker.handled) == [0, 1, 2, 3, 4, 99]


def _commit_waking(worker: ListQueue) -> None:
    with session_scope() as session:
        worker.wake_after_commit(session)
