"""After a server start, terminals get one heartbeat timeout of grace before silence counts."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.maintenance.conftest import Crews, Fleet, after, sweep_at

TIMEOUT, GRACE = 180, 600
DOWN = 900  # the server was away for 15 minutes: every last heartbeat is older than TIMEOUT


def _become_leader(seconds: float) -> None:
    from app.db import session_scope
    from app.runtime.lease import acquire_lease
    from app.runtime.scheduler import LEASE_NAME, LEASE_TTL

    with session_scope() as session:
        assert acquire_lease(session=session, name=LEASE_NAME, holder="restarted:1",
                             ttl=LEASE_TTL, now=after(seconds)) is not None


def _outages(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    return list(client.get("/api/v1/outages", headers=admin).json()["items"])


def test_a_restart_opens_no_outage_or_ticket_for_terminals_that_were_fine(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    fine, dead = fleet.register("v11"), fleet.register("v21")
    fleet.beat(fine, dead)  # both healthy when the server went down at T0

    _become_leader(DOWN)  # the server is back: its scheduler takes the lease
    sweep_at(clock, DOWN + 1)
    assert _outages(client, admin) == []  # nobody could be heard while the server was down

    fleet.sweep_at(clock, DOWN + 20, alive=(fine,))  # `fine` reconnects; `dead` never does
    sweep_at(clock, DOWN + TIMEOUT - 1)
    assert _outages(client, admin) == []

    sweep_at(clock, DOWN + TIMEOUT + 1)  # one timeout after the start: silence counts again
    [outage] = _outages(client, admin)
    assert (outage["speaker"], outage["cause"]) == (dead.id, "offline")

    fleet.sweep_at(clock, DOWN + TIMEOUT + 1 + GRACE, alive=(fine,))
    tickets = client.get("/api/v1/tickets", headers=admin).json()["items"]
    assert [t["speaker"] for t in tickets] == [dead.id]


def test_without_a_restart_silence_is_detected_at_the_timeout(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet
) -> None:
    _become_leader(0)  # leader all along
    silent = fleet.register("v11")
    fleet.beat(silent)

    sweep_at(clock, TIMEOUT + 1)
    assert [o["speaker"] for o in _outages(client, admin)] == [silent.id]
