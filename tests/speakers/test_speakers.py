"""The speaker registry: tokens shown once, scoping, moves, maintenance, rotation, retirement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from fastapi.testclient import TestClient

from tests.playout.orders import bearer, heartbeat, register


def test_registering_shows_a_terminal_token_once(client: TestClient, admin, district) -> None:
    created = register(client, admin, "v11", "SN-001", name="村口大喇叭", lat=30.1, lon=120.2)
    assert created["token"].startswith("cxt_") and len(created["token"]) > 40
    assert created["serial"] == "SN-001" and created["village"] == "v11"
    assert created["town"] == "t1" and created["status"] == "offline"
    shown = client.get(f"/api/v1/speakers/{created['id']}", headers=admin).json()
    assert "token" not in shown and shown["token_prefix"] == created["token"][:10]
    assert shown["name"] == "村口大喇叭" and shown["lat"] == 30.1
    assert client.get("/terminal/v1/program", headers=bearer(created["token"])).status_code == 200


def test_bad_registrations(client: TestClient, admin, district) -> None:
    register(client, admin, "v11", "SN-001")
    again = client.post("/api/v1/speakers", json={"serial": "SN-001", "village": "v12"},
                        headers=admin)
    assert again.status_code == 409
    for body, status in [({"serial": "SN-2", "village": "nowhere"}, 422),
                         ({"serial": "SN-2", "village": "t1"}, 422),
                         ({"serial": "", "village": "v11"}, 422),
                         ({"serial": "SN-2", "village": "v11", "lat": 123}, 422),
                         ({"serial": "SN-2", "village": "v11", "colour": "red"}, 422)]:
        response = client.post("/api/v1/speakers", json=body, headers=admin)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]


def test_lists_filter_by_village_town_and_status(client: TestClient, admin, district) -> None:
    a = register(client, admin, "v11", "A")
    register(client, admin, "v12", "B")
    register(client, admin, "v21", "C")
    assert heartbeat(client, a["token"]).status_code == 200

    def serials(query: str) -> list[str]:
        response = client.get(f"/api/v1/speakers{query}", headers=admin)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return [s["serial"] for s in body["items"]]

    assert serials("") == ["A", "B", "C"]
    assert serials("?village=v11") == ["A"]
    assert serials("?town=t1") == ["A", "B"]
    assert serials("?area=t2") == ["C"]
    assert serials("?status=online") == ["A"]
    assert serials("?status=offline") == ["B", "C"]
    assert serials("?town=t1&status=offline") == ["B"]
    assert client.get("/api/v1/speakers?status=asleep", headers=admin).status_code == 422


def test_staff_work_inside_their_area_only(client: TestClient, admin, district) -> None:
    east = district.user("east", "staff", "t1")
    crew = district.user("fixer", "crew", "t2")
    mine = register(client, east, "v11", "E1")
    assert client.post("/api/v1/speakers", json={"serial": "X", "village": "v21"},
                       headers=east).status_code == 403
    west = register(client, admin, "v21", "W1")
    assert client.get(f"/api/v1/speakers/{west['id']}", headers=east).status_code == 403
    listed = client.get("/api/v1/speakers", headers=east).json()["items"]
    assert [s["serial"] for s in listed] == ["E1"]
    assert client.get("/api/v1/speakers?village=v21", headers=east).status_code == 403
    assert client.patch(f"/api/v1/speakers/{mine['id']}", json={"village": "v21"},
                        headers=east).status_code == 403
    # A crew reads the speakers of its area, changes none.
    assert client.get(f"/api/v1/speakers/{west['id']}", headers=crew).status_code == 200
    assert client.patch(f"/api/v1/speakers/{west['id']}", json={"name": "x"},
                        headers=crew).status_code == 403
    # A terminal is no person: the registry is closed to it.
    assert client.get("/api/v1/speakers", headers=bearer(mine["token"])).status_code == 403


def test_health_online_fault_maintenance_and_offline_after_the_timeout(
    client: TestClient, admin, district
) -> None:
    speaker = register(client, admin, "v11", "H1")
    url = f"/api/v1/speakers/{speaker['id']}"
    ack = heartbeat(client, speaker["token"], power="battery", volume=70, playing="ord_x")
    assert ack.status_code == 200 and ack.json()["village"] == "v11"
    server_time = datetime.fromisoformat(ack.json()["server_time"])
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=5)
    shown = client.get(url, headers=admin).json()
    assert (shown["status"], shown["power"], shown["volume"], shown["playing"]) == (
        "online", "battery", 70, "ord_x")
    heartbeat(client, speaker["token"], status="fault", fault="amplifier overheated")
    shown = client.get(url, headers=admin).json()
    assert (shown["status"], shown["fault"]) == ("fault", "amplifier overheated")
    heartbeat(client, speaker["token"])
    assert client.get(url, headers=admin).json()["status"] == "online"
    maintained = client.patch(url, json={"maintenance": True}, headers=admin).json()
    assert maintained["status"] == "maintenance" and maintained["maintenance"] is True
    back = client.patch(url, json={"maintenance": False}, headers=admin).json()
    assert back["status"] == "online"
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=181)):
        assert client.get(url, headers=admin).json()["status"] == "offline"
        listed = client.get("/api/v1/speakers?status=offline", headers=admin).json()
        assert [s["serial"] for s in listed["items"]] == ["H1"]


def test_bad_heartbeats_are_refused(client: TestClient, admin, district) -> None:
    token = register(client, admin, "v11", "H2")["token"]
    for body in [{"status": "fine", "power": "mains"}, {"status": "ok", "power": "solar"},
                 {"status": "ok"}, {"status": "ok", "power": "mains", "volume": 101}]:
        response = client.post("/terminal/v1/heartbeat", json=body, headers=bearer(token))
        assert response.status_code == 422, body
    assert client.post("/terminal/v1/heartbeat", json={"status": "ok", "power": "mains"}
                       ).status_code == 401


def test_moving_renaming_and_repositioning_are_audited(client: TestClient, admin, district) -> None:
    speaker = register(client, admin, "v11", "M1")
    url = f"/api/v1/speakers/{speaker['id']}"
    moved = client.patch(url, headers=admin,
                         json={"village": "v21", "name": "西村喇叭", "lat": 31.0, "lon": 121.0})
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert (body["village"], body["town"], body["name"], body["lat"]) == (
        "v21", "t2", "西村喇叭", 31.0)
    assert client.patch(url, json={"village": "t1"}, headers=admin).status_code == 422
    audit = client.get("/api/v1/audit?entity=speaker", headers=admin)
    assert audit.status_code == 200, audit.text
    actions = {(e["action"], e["entity_id"]) for e in audit.json()["items"]}
    assert {("create", speaker["id"]), ("update", speaker["id"])} <= actions


def test_a_rotated_token_stops_at_once(client: TestClient, admin, district) -> None:
    speaker = register(client, admin, "v11", "R1")
    rotated = client.post(f"/api/v1/speakers/{speaker['id']}/token", headers=admin)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["token"]
    assert new.startswith("cxt_") and new != speaker["token"]
    old = client.get("/terminal/v1/program", headers=bearer(speaker["token"]))
    assert old.status_code == 401 and old.json()["error"] == "unauthorized"
    assert heartbeat(client, speaker["token"]).status_code == 401
    assert client.get("/terminal/v1/program", headers=bearer(new)).status_code == 200


def test_retiring_removes_the_speaker_and_its_token(client: TestClient, admin, district) -> None:
    speaker = register(client, admin, "v11", "D1")
    url = f"/api/v1/speakers/{speaker['id']}"
    assert client.delete(url, headers=admin).status_code == 204
    assert client.get(url, headers=admin).status_code == 404
    assert client.delete(url, headers=admin).status_code == 404
    assert client.get("/terminal/v1/program", headers=bearer(speaker["token"])).status_code == 401
    assert client.get("/api/v1/speakers", headers=admin).json()["total"] == 0
    # The same device may be registered again, in another village, with a new token.
    again = register(client, admin, "v12", "D1")
    assert again["id"] == speaker["id"] and again["village"] == "v12"
    assert again["token"] != speaker["token"] and again["status"] == "offline"


def test_an_area_with_speakers_cannot_be_deleted(client: TestClient, admin, district) -> None:
    register(client, admin, "v21", "K1")
    response = client.delete("/api/v1/areas/v21", headers=admin)
    assert response.status_code == 409 and "speaker" in response.json()["detail"]


def test_the_online_gauge_counts_healthy_terminals(client: TestClient, admin, district) -> None:
    import time

    first = register(client, admin, "v11", "G1")
    register(client, admin, "v11", "G2")
    heartbeat(client, first["token"])
    deadline = time.monotonic() + 5
    value = None
    while time.monotonic() < deadline:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith("cunxiang_terminals_online "):
                value = float(line.split()[1])
        if value == 1.0:
            break
        time.sleep(0.2)
    assert value == 1.0
