"""Webhooks reach a real local HTTP receiver, signed, retried with back-off, never in the way."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, free_port, login
from tests.maintenance.conftest import T0, Crews, Fleet, sweep_at

SECRET = "村村响-webhook-secret"


@dataclass
class Received:
    """One POST the receiver got."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A small HTTP server in a thread: records each POST, answers with the next status given."""

    url: str
    answers: list[int] = field(default_factory=list)
    delay_s: float = 0.0
    got: list[Received] = field(default_factory=list)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """Wait until ``count`` requests have arrived."""
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.got) >= count, f"got {len(self.got)} request(s), wanted {count}"
        return self.got


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A live receiver on a free port of the loopback interface."""
    port = free_port()
    state = Receiver(url=f"http://127.0.0.1:{port}/hooks/cunxiang")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.got.append(Received(dict(self.headers.items()), body))
            time.sleep(state.delay_s)
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.block_on_close = False  # type: ignore[attr-defined]  (a slow handler must not hang us)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _subscribe(client: TestClient, admin: dict[str, str], url: str, events: list[str]) -> str:
    response = client.post("/api/v1/webhooks", headers=admin,
                           json={"url": url, "events": events, "secret": SECRET})
    assert response.status_code == 201, response.text
    assert "secret" not in response.json()
    return str(response.json()["id"])


def _deliveries(client: TestClient, admin: dict[str, str], hook: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=admin)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def _signed(request: Received) -> bool:
    digest = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    return request.headers["X-Cunxiang-Signature"] == f"sha256={digest}"


def _eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_a_receiver_that_fails_three_times_gets_the_signed_event_on_the_fourth_try(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews,
    receiver: Receiver,
) -> None:
    hook = _subscribe(client, admin, receiver.url, ["ticket.opened"])
    receiver.answers = [500, 503, 500]
    speaker = fleet.register("v11")
    report = client.post("/api/v1/outages", headers=admin,
                         json={"speaker": speaker.id, "cause": "vandalism", "note": "线被剪"})
    assert report.status_code == 201
    first = receiver.wait_for(1)[0]
    assert first.json["event"] == "ticket.opened"
    assert first.json["data"]["id"] == report.json()["ticket"]
    assert first.json["data"]["crew"] == crews.a
    assert first.headers["X-Cunxiang-Event"] == "ticket.opened"
    assert _signed(first)

    _eventually(lambda: _deliveries(client, admin, hook)[0]["attempts"] == 1)
    [log] = _deliveries(client, admin, hook)
    assert (log["status"], log["last_status"]) == ("pending", 500)
    time.sleep(1.5)  # the worker polls every second: no retry before the back-off has passed
    assert len(receiver.got) == 1

    for attempt, back_off in ((2, 10), (3, 20), (4, 40)):
        clock.shift(back_off + 1)
        receiver.wait_for(attempt)
        # The back-off counts from when the failure is recorded: let that happen first.
        _eventually(lambda n=attempt: _deliveries(client, admin, hook)[0]["attempts"] == n)
    _eventually(lambda: _deliveries(client, admin, hook)[0]["status"] == "delivered")
    [log] = _deliveries(client, admin, hook)
    assert (log["attempts"], log["last_status"], log["last_error"]) == (4, 200, None)
    assert len(receiver.got) == 4
    assert all(r.body == first.body and _signed(r) for r in receiver.got)


def test_a_dead_receiver_never_slows_the_api(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, receiver: Receiver,
) -> None:
    receiver.delay_s = 8.0  # longer than the worker's timeout
    _subscribe(client, admin, receiver.url, ["ticket.opened"])
    speakers = [fleet.register("v12") for _ in range(3)]
    for speaker in speakers:
        started = time.monotonic()
        response = client.post("/api/v1/outages", headers=admin,
                               json={"speaker": speaker.id, "cause": "other"})
        assert response.status_code == 201
        assert time.monotonic() - started < 1.0
    receiver.wait_for(3)  # sent all the same, from the background


def test_every_event_kind_is_queued_in_the_transaction_that_caused_it(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews,
    receiver: Receiver,
) -> None:
    from app.db import session_scope
    from app.runtime.events import emit

    hook = _subscribe(client, admin, receiver.url,
                      ["ticket.opened", "ticket.overdue", "ticket.closed", "broadcast.finished"])
    with session_scope() as session:
        emit(session, "broadcast.finished", broadcast_id="brd_test")
    with pytest.raises(RuntimeError), session_scope() as session:  # rolled back: nothing sent
        emit(session, "broadcast.finished", broadcast_id="brd_rolled_back")
        raise RuntimeError("the broadcast's transaction failed")

    speaker = fleet.register("v21")
    fleet.beat(speaker)
    sweep_at(clock, 181)
    sweep_at(clock, 800)  # ticket.opened
    # Jumping a day ahead while a send is in flight would make its claim look abandoned
    # (at-least-once delivery): let both be recorded first.
    receiver.wait_for(2)
    _eventually(lambda: all(d["status"] == "delivered" for d in _deliveries(client, admin, hook)))
    sweep_at(clock, 800 + 24 * 3600 + 1)  # the only speaker of v21: high, due in 24 h
    receiver.wait_for(3)
    admin = login(client, "admin", ADMIN_PASSWORD)  # the clock jumped past its token's life
    _eventually(lambda: all(d["status"] == "delivered" for d in _deliveries(client, admin, hook)))
    crew_b = crews.headers("crew_b")
    ticket = client.get("/api/v1/tickets", headers=crew_b).json()["items"][0]
    client.post(f"/api/v1/tickets/{ticket['id']}/resolve", headers=crew_b,
                json={"cause": "power_cut", "resolution": "恢复供电"})
    fleet.sweep_at(clock, 800 + 24 * 3600 + 60, alive=(speaker,))  # ticket.closed

    got = receiver.wait_for(4)
    assert sorted(r.json["event"] for r in got) == ["broadcast.finished", "ticket.closed",
                                                    "ticket.opened", "ticket.overdue"]
    by_event = {r.json["event"]: r.json for r in got}
    assert by_event["broadcast.finished"]["data"] == {"broadcast": "brd_test"}
    assert by_event["ticket.closed"]["data"]["status"] == "closed"
    assert datetime.fromisoformat(by_event["ticket.opened"]["at"]) > T0
    assert len(_deliveries(client, admin, hook)) == 4


def test_only_admins_manage_webhooks_and_bad_subscriptions_are_refused(
    client: TestClient, admin: dict[str, str], district: Any
) -> None:
    staff = district.user("staff", "staff", "d1")
    body = {"url": "http://127.0.0.1:9/x", "events": ["ticket.opened"], "secret": "s"}
    assert client.post("/api/v1/webhooks", headers=staff, json=body).status_code == 403
    assert client.post("/api/v1/webhooks", headers=admin,
                       json={**body, "url": "ftp://example.org/x"}).status_code == 422
    assert client.post("/api/v1/webhooks", headers=admin,
                       json={**body, "events": ["ticket.eaten"]}).status_code == 422
    hook = client.post("/api/v1/webhooks", headers=admin, json=body).json()["id"]
    assert client.get("/api/v1/webhooks", headers=admin).json()["total"] == 1
    assert client.delete(f"/api/v1/webhooks/{hook}", headers=admin).status_code == 204
    assert client.get(f"/api/v1/webhooks/{hook}/deliveries", headers=admin).status_code == 404


def test_a_url_longer_than_can_be_stored_is_422(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    """Measured once encoded (300 Chinese characters are 2,700 bytes of URL): PostgreSQL
    refused the row with a 500 before."""
    for url in ("http://127.0.0.1:9/" + "a" * 2000, "http://127.0.0.1:9/" + "你" * 300):
        refused = client.post("/api/v1/webhooks", headers=admin, json={
            "url": url, "events": ["ticket.opened"], "secret": "s"})
        assert refused.status_code == 422, refused.text
        assert refused.json()["fields"][0]["field"] == "url"
    fits = client.post("/api/v1/webhooks", headers=admin, json={
        "url": "http://127.0.0.1:9/" + "a" * 1900, "events": ["ticket.opened"], "secret": "s"})
    assert fits.status_code == 201, fits.text
    assert client.get("/api/v1/webhooks", headers=admin).json()["total"] == 1
