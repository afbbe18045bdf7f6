"""Fixtures for maintenance tests: speakers that beat through the terminal API, crews, a clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, District, login

# A fixed start, well inside working hours in Asia/Shanghai.
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


@dataclass
class Terminal:
    """A registered speaker and its terminal token."""

    id: str
    token: str
    village: str


class Fleet:
    """Registers speakers and sends their heartbeats through the terminal protocol."""

    def __init__(self, client: TestClient, admin: dict[str, str]) -> None:
        self.client, self.admin = client, admin
        self._serial = 0

    def register(self, village: str, **extra: Any) -> Terminal:
        """A new speaker in ``village``."""
        self._serial += 1
        body = {"serial": f"SN-{village}-{self._serial:04d}", "village": village, **extra}
        response = self.client.post("/api/v1/speakers", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        data = response.json()
        return Terminal(id=data["id"], token=data["token"], village=village)

    def beat(self, *terminals: Terminal, status: str = "ok", power: str = "mains",
             fault: str | None = None) -> None:
        """One heartbeat from each terminal, written to the database at once."""
        for terminal in terminals:
            body: dict[str, Any] = {"status": status, "power": power}
            if fault:
                body["fault"] = fault
            response = self.client.post("/terminal/v1/heartbeat", json=body,
                                        headers={"Authorization": f"Bearer {terminal.token}"})
            assert response.status_code == 200, response.text
        self.client.app.state.heartbeats.flush()  # type: ignore[attr-defined]

    def sweep_at(self, clock: Any, seconds: float, *, alive: tuple[Terminal, ...] = ()) -> Any:
        """At T0 + ``seconds``: the ``alive`` terminals beat, then the sweep runs."""
        clock.move_to(after(seconds))
        if alive:
            self.beat(*alive)
        return sweep_at(clock, seconds)

    def maintenance(self, terminal: Terminal, on: bool) -> None:
        """Switch a speaker's maintenance flag."""
        response = self.client.patch(f"/api/v1/speakers/{terminal.id}",
                                     json={"maintenance": on}, headers=self.admin)
        assert response.status_code == 200, response.text


@pytest.fixture
def clock() -> Iterator[Any]:
    """Time stands still at T0 until the test moves it (``clock.shift(seconds)``)."""
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fleet(clock: Any, client: TestClient, admin: dict[str, str], district: District) -> Fleet:
    """Speaker registration and heartbeats on the small test district."""
    return Fleet(client, admin)


@dataclass
class Crews:
    """Crew A serves town t1 (member ``crew_a``), crew B serves t2 (member ``crew_b``)."""

    a: str
    b: str
    district: District

    def headers(self, username: str) -> dict[str, str]:
        """Fresh login headers (tokens expire when the clock jumps days ahead)."""
        return login(self.district.client, username, PASSWORD)


@pytest.fixture
def crews(district: District, admin: dict[str, str]) -> Crews:
    """Two crews, one per town, each with one crew member."""
    district.user("crew_a", "crew", None)
    district.user("crew_b", "crew", None)
    ids = []
    for name, town, member in (("东镇维修队", "t1", "crew_a"), ("西镇维修队", "t2", "crew_b")):
        response = district.client.post("/api/v1/crews", headers=admin, json={
            "name": name, "towns": [town], "members": [member]})
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    return Crews(a=ids[0], b=ids[1], district=district)


def sweep_at(clock: Any, seconds: float) -> Any:
    """Move the clock to T0 + ``seconds`` and run the maintenance sweep as the leader would."""
    from app.maintenance.sweep import sweep

    clock.move_to(after(seconds))
    return sweep()


def after(seconds: float) -> datetime:
    """T0 plus ``seconds``."""
    return T0 + timedelta(seconds=seconds)
