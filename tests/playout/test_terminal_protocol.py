"""The terminal protocol: who may call it, what the program holds, long-poll, receipts."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.playout.orders import (
    bearer,
    insert_order,
    order_row,
    register,
    set_order_state,
    store_media,
)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def tone() -> dict[str, Any]:
    """A one-second tone in the media store."""
    return store_media(1.0)


def test_only_terminal_tokens_open_the_protocol(client: TestClient, admin, district) -> None:
    token = register(client, admin, "v11", "P1")["token"]
    for method, path, body in [("GET", "/terminal/v1/program", None),
                               ("POST", "/terminal/v1/heartbeat",
                                {"status": "ok", "power": "mains"}),
                               ("POST", "/terminal/v1/receipts", [])]:
        assert client.request(method, path, json=body).status_code == 401
        assert client.request(method, path, json=body,
                              headers=bearer("cxt_forged")).status_code == 401
        user = client.request(method, path, json=body, headers=admin)
        assert user.status_code == 403 and user.json()["error"] == "forbidden"
        assert client.request(method, path, json=body, headers=bearer(token)).status_code == 200


def test_the_program_holds_the_villages_orders_in_force_by_start(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    token = register(client, admin, "v11", "P2")["token"]
    now = _now()
    later = insert_order("v11", now + timedelta(hours=2), [tone], loop=2)
    running = insert_order("v11", now - timedelta(minutes=1), [tone])
    alert = insert_order("v11", now + timedelta(hours=1), [tone, tone], kind="urgent", level=2,
                         mode="exercise", broadcast_id="brd_flood")
    insert_order("v12", now + timedelta(hours=1), [tone])  # another village
    insert_order("v11", now - timedelta(hours=2), [tone],
                 not_after=now - timedelta(hours=1))  # over
    withdrawn = insert_order("v11", now + timedelta(hours=3), [tone])
    set_order_state(withdrawn, "withdrawn")
    insert_order("v11", now + timedelta(days=3), [tone])  # beyond the horizon

    response = client.get("/terminal/v1/program", headers=bearer(token))
    assert response.status_code == 200, response.text
    program = response.json()
    assert isinstance(program["version"], int) and program["version"] >= 1
    server_time = datetime.fromisoformat(program["server_time"])
    assert abs(server_time - datetime.now(UTC)) < timedelta(seconds=5)
    assert [o["id"] for o in program["orders"]] == [running, alert, later]
    urgent = program["orders"][1]
    assert (urgent["kind"], urgent["mode"], urgent["level"], urgent["priority"],
            urgent["broadcast"]) == ("urgent", "exercise", 2, 3, "brd_flood")
    routine = program["orders"][2]
    assert routine["kind"] == "routine" and "broadcast" not in routine
    assert routine["loop"] == 2 and routine["volume"] == 80 and routine["level"] is None
    assert datetime.fromisoformat(routine["start_at"]) == now + timedelta(hours=2)
    assert routine["not_after"] > routine["start_at"]
    media = routine["media"][0]
    assert media["url"] == f"http://testserver/media/{tone['sha256']}"
    assert media["sha256"] == tone["sha256"] and media["duration_ms"] == tone["duration_ms"]
    assert client.get(media["url"]).content[:3] in (b"ID3", b"\xff\xfb", b"\xff\xf3")
    # Deliveries are recorded in batches, within a second.
    deadline = time.monotonic() + 5
    while order_row(later).first_fetched_at is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert order_row(later).first_fetched_at is not None
    assert order_row(withdrawn).first_fetched_at is None


def _long_poll(client: TestClient, token: str, version: int, wait: float) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def run() -> None:
        started = time.monotonic()
        response = client.get(f"/terminal/v1/program?version={version}&wait={wait}",
                              headers=bearer(token))
        result.update(status=response.status_code, seconds=time.monotonic() - started,
                      body=response.json() if response.status_code == 200 else None)

    thread = threading.Thread(target=run)
    thread.start()
    result["thread"] = thread
    return result


def test_a_long_poll_answers_as_soon_as_the_program_changes(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    token = register(client, admin, "v11", "P3")["token"]
    version = client.get("/terminal/v1/program", headers=bearer(token)).json()["version"]
    other = _long_poll(client, register(client, admin, "v12", "P4")["token"], 0, 3)
    waiting = _long_poll(client, token, version, 20)
    time.sleep(0.5)
    assert waiting["thread"].is_alive()  # nothing changed yet: it waits
    order = insert_order("v11", _now() + timedelta(minutes=5), [tone])
    waiting["thread"].join(5)
    assert waiting["status"] == 200 and waiting["seconds"] < 3
    assert waiting["body"]["version"] > version
    assert [o["id"] for o in waiting["body"]["orders"]] == [order]
    other["thread"].join(10)
    assert other["status"] == 304  # v12 did not change: unchanged at the timeout


def test_unchanged_at_the_timeout_is_304_and_a_stale_version_answers_at_once(
    client: TestClient, admin, district
) -> None:
    token = register(client, admin, "v11", "P5")["token"]
    version = client.get("/terminal/v1/program", headers=bearer(token)).json()["version"]
    started = time.monotonic()
    response = client.get(f"/terminal/v1/program?version={version}&wait=1", headers=bearer(token))
    assert response.status_code == 304 and 0.9 < time.monotonic() - started < 5
    started = time.monotonic()
    stale = client.get(f"/terminal/v1/program?version={version + 7}&wait=30", headers=bearer(token))
    assert stale.status_code == 200 and time.monotonic() - started < 2
    assert client.get("/terminal/v1/program?wait=-1", headers=bearer(token)).status_code == 422


def test_a_moved_speaker_gets_its_new_villages_program_at_once(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    speaker = register(client, admin, "v11", "P6")
    west = insert_order("v21", _now() + timedelta(minutes=5), [tone])
    for _ in range(3):  # v21's version is now ahead of v11's: a move must still look new
        insert_order("v21", _now() + timedelta(minutes=30 + _), [tone])
    insert_order("v11", _now() + timedelta(minutes=5), [tone])
    version = client.get("/terminal/v1/program", headers=bearer(speaker["token"])).json()["version"]
    waiting = _long_poll(client, speaker["token"], version, 20)
    time.sleep(0.3)
    moved = client.patch(f"/api/v1/speakers/{speaker['id']}", json={"village": "v21"},
                         headers=admin)
    assert moved.status_code == 200
    waiting["thread"].join(5)
    assert waiting["status"] == 200 and waiting["seconds"] < 3
    assert west in [o["id"] for o in waiting["body"]["orders"]]
    assert waiting["body"]["version"] != version


def test_after_a_move_the_new_villages_version_is_above_any_the_old_one_had(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    """A terminal that fetched its old village's program once more, just as it moved, must
    still see the new village's program as new."""
    for minutes in (5, 6, 7):
        insert_order("v11", _now() + timedelta(minutes=minutes), [tone])
    mover, stayer = register(client, admin, "v11", "P9"), register(client, admin, "v11", "P10")
    assert client.patch(f"/api/v1/speakers/{mover['id']}", json={"village": "v21"},
                        headers=admin).status_code == 200
    old = client.get("/terminal/v1/program", headers=bearer(stayer["token"])).json()["version"]
    new = client.get("/terminal/v1/program", headers=bearer(mover["token"])).json()["version"]
    assert new > old


def test_receipts_are_idempotent_and_move_the_order(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    token = register(client, admin, "v11", "P7")["token"]
    order = insert_order("v11", _now() - timedelta(seconds=5), [tone])
    at = _now().isoformat()
    batch = [{"order": order, "event": "started", "at": at},
             {"order": order, "event": "finished", "at": at, "detail": "ok"}]
    first = client.post("/terminal/v1/receipts", json=batch, headers=bearer(token))
    assert first.status_code == 200, first.text
    assert first.json() == {"accepted": 2, "duplicates": 0}
    again = client.post("/terminal/v1/receipts", json=batch, headers=bearer(token))
    assert again.json() == {"accepted": 0, "duplicates": 2}
    assert order_row(order).state == "played"
    # A second speaker of the village reporting a failure does not undo "played".
    second = register(client, admin, "v11", "P8")["token"]
    client.post("/terminal/v1/receipts", json=[{"order": order, "event": "failed", "at": at}],
                headers=bearer(second))
    assert order_row(order).state == "played"
    # And a finished order stays in the program for the village's other speakers.
    program = client.get("/terminal/v1/program", headers=bearer(second)).json()
    ids = [o["id"] for o in program["orders"]]
    assert order in ids


def test_receipts_for_other_villages_or_unknown_orders_are_refused(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    token = register(client, admin, "v11", "P9")["token"]
    mine = insert_order("v11", _now(), [tone])
    theirs = insert_order("v21", _now(), [tone])
    at = _now().isoformat()
    foreign = client.post("/terminal/v1/receipts", headers=bearer(token), json=[
        {"order": mine, "event": "started", "at": at},
        {"order": theirs, "event": "started", "at": at}])
    assert foreign.status_code == 403
    unknown = client.post("/terminal/v1/receipts", headers=bearer(token),
                          json=[{"order": "ord_nope", "event": "started", "at": at}])
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_order"
    for bad in [[{"order": mine, "event": "exploded", "at": at}],
                [{"order": mine, "event": "started"}],
                [{"order": mine, "event": "started", "at": "2025-01-01T10:00:00"}],
                {"order": mine}]:
        assert client.post("/terminal/v1/receipts", headers=bearer(token),
                           json=bad).status_code == 422, bad
    # Nothing of the refused batches was stored.
    ok = client.post("/terminal/v1/receipts", headers=bearer(token),
                     json=[{"order": mine, "event": "started", "at": at}])
    assert ok.json() == {"accepted": 1, "duplicates": 0}


@pytest.mark.slow
def test_a_change_committed_by_another_process_wakes_the_long_poll(env, tmp_path) -> None:
    """PostgreSQL notifies the server at once; on SQLite its version watch notices."""
    import httpx

    from tests.conftest import ADMIN_PASSWORD, District, LiveServer, login

    server = LiveServer(env).start(timeout=90)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            admin = login(http, "admin", ADMIN_PASSWORD)  # type: ignore[arg-type]
            District(http, admin)  # type: ignore[arg-type]
            token = register(http, admin, "v11", "X1")["token"]
            version = http.get("/terminal/v1/program", headers=bearer(token)).json()["version"]
            tone = store_media(1.0)

            def change_soon() -> None:
                time.sleep(1)
                insert_order("v11", _now() + timedelta(minutes=5), [tone])  # this process

            changer = threading.Thread(target=change_soon)
            changer.start()
            started = time.monotonic()
            answer = http.get(f"/terminal/v1/program?version={version}&wait=30",
                              headers=bearer(token))
            changer.join()
            assert answer.status_code == 200 and time.monotonic() - started < 5
            assert len(answer.json()["orders"]) == 1
    finally:
        server.stop()


def test_a_terminal_ahead_of_this_process_is_not_answered_again(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    """Behind a load balancer a terminal may learn of a change from another node before this
    one has its notification: this node must wait with it, not answer the same (or an
    older) program again."""
    from sqlalchemy import update

    from app.db import session_scope
    from app.playout.models import VillageProgram

    token = register(client, admin, "v11", "AHEAD")["token"]
    insert_order("v11", _now() + timedelta(hours=1), [tone])
    held = client.get("/terminal/v1/program", headers=bearer(token)).json()["version"]
    with session_scope() as session:  # another node's commit, its notification not yet here
        session.execute(update(VillageProgram).where(VillageProgram.village_code == "v11")
                        .values(version=VillageProgram.version + 1))
    answer = client.get(f"/terminal/v1/program?version={held + 1}&wait=1",
                        headers=bearer(token))
    assert answer.status_code == 304
