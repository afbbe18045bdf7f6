"""Crews (镇台联动): which towns they serve, who is in them, and who may change them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import District
from tests.maintenance.conftest import Fleet, sweep_at


def _crew(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/v1/crews", json=body, headers=headers)


def test_crews_are_created_listed_changed_and_disbanded(
    client: TestClient, admin: dict[str, str], district: District
) -> None:
    district.user("tech1", "crew", None)
    district.user("tech2", "crew", None)
    created = _crew(client, admin, name="东镇队", towns=["t1"], members=["tech1", "tech2"])
    assert created.status_code == 201, created.text
    crew = created.json()
    assert (crew["towns"], crew["members"]) == (["t1"], ["tech1", "tech2"])

    assert _crew(client, admin, name="抢修二队", towns=["t1"]).status_code == 409  # t1 is taken
    assert _crew(client, admin, name="东镇队", towns=["t2"]).status_code == 409  # name taken
    assert _crew(client, admin, name="x", towns=["v11"]).status_code == 422  # not a town
    assert _crew(client, admin, name="x", towns=["t2"], members=["nobody"]).status_code == 422

    path = f"/api/v1/crews/{crew['id']}"
    changed = client.patch(path, json={"towns": ["t1", "t2"], "members": ["tech2"]},
                           headers=admin)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["towns"], changed.json()["members"]) == (["t1", "t2"], ["tech2"])
    assert client.get("/api/v1/crews", headers=admin).json()["total"] == 1
    assert client.get(path, headers=admin).json()["name"] == "东镇队"

    assert client.delete(path, headers=admin).status_code == 204
    assert client.get(path, headers=admin).status_code == 404
    actions = [a["action"] for a in client.get("/api/v1/audit", headers=admin).json()["items"]
               if a["entity"] == "crew"]
    assert sorted(actions) == ["create", "delete", "update"]


def test_staff_manage_crews_of_their_own_towns_only(
    client: TestClient, admin: dict[str, str], district: District
) -> None:
    staff = district.user("staff_t1", "staff", "t1")
    assert _crew(client, staff, name="东镇队", towns=["t1"]).status_code == 201
    assert _crew(client, staff, name="西镇队", towns=["t2"]).status_code == 403
    west = _crew(client, admin, name="西镇队", towns=["t2"]).json()
    assert client.delete(f"/api/v1/crews/{west['id']}", headers=staff).status_code == 403
    assert [c["name"] for c in client.get("/api/v1/crews", headers=staff).json()["items"]] == \
        ["东镇队"]
    crew_member = district.user("tech", "crew", None)
    assert _crew(client, crew_member, name="自封队", towns=[]).status_code == 403


def test_tickets_of_a_town_no_crew_served_go_to_the_crew_formed_for_it(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet
) -> None:
    terminal = fleet.register("v21")
    fleet.beat(terminal)
    sweep_at(clock, 181)
    sweep_at(clock, 800)
    [ticket] = client.get("/api/v1/tickets", headers=admin).json()["items"]
    assert ticket["crew"] is None

    crew = _crew(client, admin, name="西镇队", towns=["t2"]).json()
    ticket = client.get(f"/api/v1/tickets/{ticket['id']}", headers=admin).json()
    assert ticket["crew"] == crew["id"]
    assert ticket["events"][-1]["kind"] == "assigned"
