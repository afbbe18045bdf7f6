"""From heartbeats to outages and tickets: timeout, grace period, crews, priority, maintenance."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from tests.maintenance.conftest import Crews, Fleet, after, sweep_at

TIMEOUT, GRACE = 180, 600  # the defaults of SPEC §2


def _outages(client: TestClient, admin: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/outages", params=query, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _tickets(client: TestClient, headers: dict[str, str], **query: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/tickets", params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _status(client: TestClient, admin: dict[str, str], speaker_id: str) -> str:
    return client.get(f"/api/v1/speakers/{speaker_id}", headers=admin).json()["status"]


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_a_silent_terminal_goes_offline_opens_an_outage_then_a_ticket_for_its_crew(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    silent, neighbour = fleet.register("v11"), fleet.register("v11")
    fleet.beat(silent, neighbour)

    # The neighbour keeps beating; ``silent`` does not.
    fleet.sweep_at(clock, TIMEOUT - 1, alive=(neighbour,))
    assert _status(client, admin, silent.id) == "online"
    assert _outages(client, admin) == []

    fleet.sweep_at(clock, TIMEOUT + 1, alive=(neighbour,))
    assert _status(client, admin, silent.id) == "offline"
    [outage] = _outages(client, admin)
    assert (outage["speaker"], outage["source"], outage["cause"]) == (silent.id, "detected",
                                                                      "offline")
    assert outage["closed_at"] is None and outage["ticket"] is None

    fleet.sweep_at(clock, TIMEOUT + 120, alive=(neighbour,))
    fleet.sweep_at(clock, TIMEOUT + 1 + GRACE - 1, alive=(neighbour,))
    assert _tickets(client, admin) == []  # still inside the grace period

    fleet.sweep_at(clock, TIMEOUT + 1 + GRACE, alive=(neighbour,))
    [ticket] = _tickets(client, admin)
    assert ticket["speaker"] == silent.id
    assert (ticket["village"], ticket["town"], ticket["crew"]) == ("v11", "t1", crews.a)
    assert ticket["status"] == "open" and ticket["cause"] == "offline"
    assert ticket["priority"] == "normal"  # the neighbour in v11 still works
    assert _at(ticket["due_at"]) - _at(ticket["opened_at"]) == after(72 * 3600) - after(0)
    assert [e["kind"] for e in ticket["events"]] == ["opened", "assigned"]
    assert _outages(client, admin)[0]["ticket"] == ticket["id"]

    # The crew serving t1 sees it; the crew of t2 does not, and is refused it.
    assert [t["id"] for t in _tickets(client, crews.headers("crew_a"))] == [ticket["id"]]
    crew_b = crews.headers("crew_b")
    assert _tickets(client, crew_b) == []
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=crew_b).status_code == 403
    assert client.post(f"/api/v1/tickets/{ticket['id']}/claim", headers=crew_b).status_code == 403


def test_the_last_speaker_of_a_village_on_battery_is_a_high_priority_power_cut(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    only = fleet.register("v21")
    fleet.beat(only, power="battery")  # mains lost (人为断电?), then the battery ran out
    sweep_at(clock, TIMEOUT + 1)
    [outage] = _outages(client, admin)
    assert outage["cause"] == "power_cut"

    sweep_at(clock, TIMEOUT + 1 + GRACE)
    [ticket] = _tickets(client, admin)
    assert (ticket["crew"], ticket["town"], ticket["priority"]) == (crews.b, "t2", "high")
    assert ticket["cause"] == "power_cut"
    assert _at(ticket["due_at"]) - _at(ticket["opened_at"]) == after(24 * 3600) - after(0)


def test_a_terminal_back_inside_the_grace_period_opens_no_ticket(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    flapping = fleet.register("v12")
    fleet.beat(flapping)
    sweep_at(clock, TIMEOUT + 1)
    assert len(_outages(client, admin, open=True)) == 1

    clock.move_to(after(TIMEOUT + 300))
    fleet.beat(flapping)  # back before the grace period ran out
    sweep_at(clock, TIMEOUT + 301)
    [outage] = _outages(client, admin)
    assert outage["closed_at"] is not None

    clock.move_to(after(TIMEOUT + 301 + GRACE))
    fleet.beat(flapping)
    sweep_at(clock, TIMEOUT + 302 + GRACE)
    assert _tickets(client, admin) == []
    assert _status(client, admin, flapping.id) == "online"


def test_a_reported_fault_opens_an_outage_with_its_cause_without_waiting_for_the_timeout(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    faulty = fleet.register("v11")
    fleet.beat(faulty, status="fault", fault="功放过热 amplifier overheating")
    sweep_at(clock, 2)
    [outage] = _outages(client, admin)
    assert (outage["cause"], outage["note"]) == ("amplifier", "功放过热 amplifier overheating")

    clock.move_to(after(GRACE + 1))
    fleet.beat(faulty, status="fault", fault="功放过热 amplifier overheating")
    sweep_at(clock, GRACE + 3)
    [ticket] = _tickets(client, admin)
    assert ticket["cause"] == "amplifier" and ticket["priority"] == "high"

    clock.move_to(after(GRACE + 100))
    fleet.beat(faulty)  # fixed by itself: the outage closes, the ticket waits for the crew
    sweep_at(clock, GRACE + 101)
    assert _outages(client, admin)[0]["closed_at"] is not None
    [ticket] = _tickets(client, admin)
    assert ticket["status"] == "open" and ticket["events"][-1]["kind"] == "recovered"


def test_a_speaker_in_maintenance_opens_no_outage_and_no_ticket(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    resting = fleet.register("v11")
    fleet.beat(resting)
    fleet.maintenance(resting, True)
    sweep_at(clock, TIMEOUT + 1)
    sweep_at(clock, TIMEOUT + GRACE + 2)
    assert _outages(client, admin) == [] and _tickets(client, admin) == []
    assert _status(client, admin, resting.id) == "maintenance"

    fleet.maintenance(resting, False)  # back in service and still silent: now it counts
    sweep_at(clock, TIMEOUT + GRACE + 3)
    sweep_at(clock, TIMEOUT + 2 * GRACE + 4)
    assert len(_tickets(client, admin)) == 1


def test_a_speaker_never_heard_is_not_an_outage(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet
) -> None:
    fleet.register("v11")  # registered, not yet installed
    sweep_at(clock, TIMEOUT + GRACE + 10)
    assert _outages(client, admin) == []


def test_a_village_left_silent_raises_its_open_tickets_to_high(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    first, second = fleet.register("v12"), fleet.register("v12")
    fleet.beat(first, second)
    for moment in range(120, 2 * GRACE, 120):
        fleet.sweep_at(clock, moment, alive=(second,))
    fleet.sweep_at(clock, 2 * GRACE, alive=(second,))
    [ticket] = _tickets(client, admin)
    assert ticket["priority"] == "normal"

    sweep_at(clock, 2 * GRACE + TIMEOUT + 5)  # now ``second`` is silent too
    by_speaker = {t["speaker"]: t for t in _tickets(client, admin)}
    assert by_speaker[first.id]["priority"] == "high"
    assert by_speaker[first.id]["events"][-1]["kind"] == "escalated"
    assert _at(by_speaker[first.id]["due_at"]) == _at(by_speaker[first.id]["opened_at"]) + \
        (after(24 * 3600) - after(0))


def test_the_tickets_open_gauge_counts_tickets_not_yet_closed(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    fleet.beat(fleet.register("v11"), fleet.register("v21"))
    sweep_at(clock, TIMEOUT + 1)
    sweep_at(clock, TIMEOUT + GRACE + 2)
    metrics = client.get("/metrics").text
    assert "cunxiang_tickets_open 2.0" in metrics
