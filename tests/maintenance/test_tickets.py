"""The ticket lifecycle: claim, resolve, proof by heartbeat, reopening, reports by hand, audit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from tests.maintenance.conftest import T0, Crews, Fleet, Terminal, after, sweep_at

TIMEOUT, GRACE = 180, 600


def _ticket_of(client: TestClient, headers: dict[str, str], terminal: Terminal) -> dict[str, Any]:
    response = client.get("/api/v1/tickets", params={"speaker": terminal.id}, headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 1, items
    return items[0]


def _silent_with_ticket(clock: Any, fleet: Fleet, village: str = "v11") -> Terminal:
    """A speaker heard at T0 and never again, with its ticket opened (at TIMEOUT+GRACE+2)."""
    terminal = fleet.register(village)
    fleet.beat(terminal)
    sweep_at(clock, TIMEOUT + 1)
    sweep_at(clock, TIMEOUT + GRACE + 2)
    return terminal


def _post(client: TestClient, path: str, headers: dict[str, str], **body: Any) -> Any:
    return client.post(path, json=body or None, headers=headers)


def test_a_resolved_ticket_closes_itself_when_heartbeats_return(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    terminal = _silent_with_ticket(clock, fleet)
    crew_a = crews.headers("crew_a")
    ticket = _ticket_of(client, crew_a, terminal)
    path = f"/api/v1/tickets/{ticket['id']}"

    claimed = _post(client, path + "/claim", crew_a)
    assert claimed.status_code == 200, claimed.text
    assert (claimed.json()["status"], claimed.json()["claimed_by"]) == ("claimed", "crew_a")
    comment = _post(client, path + "/comments", crew_a, text="村民说前天拉了闸")
    assert comment.status_code == 200
    resolved = _post(client, path + "/resolve", crew_a, cause="power_cut",
                     resolution="恢复供电，已告知村委会勿断电")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "resolved" and resolved.json()["cause"] == "power_cut"

    sweep_at(clock, TIMEOUT + GRACE + 60)  # resolved, but not heard yet
    assert client.get(path, headers=crew_a).json()["status"] == "resolved"

    fleet.sweep_at(clock, TIMEOUT + GRACE + 120, alive=(terminal,))
    closed = client.get(path, headers=crew_a).json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    kinds = [e["kind"] for e in closed["events"]]
    assert kinds == ["opened", "assigned", "claimed", "commented", "resolved", "closed"]
    actors = {e["kind"]: e["actor"] for e in closed["events"]}
    assert actors["claimed"] == "user:crew_a" and actors["closed"].startswith("system")
    outages = client.get("/api/v1/outages", headers=admin).json()["items"]
    assert all(o["closed_at"] is not None for o in outages)

    audit = client.get("/api/v1/audit", headers=admin).json()["items"]
    ticket_actions = {(a["action"], a["actor"]) for a in audit if a["entity"] == "ticket"}
    assert {("claim", "user:crew_a"), ("comment", "user:crew_a"),
            ("resolve", "user:crew_a")} <= ticket_actions


def test_a_resolved_ticket_reopens_itself_if_the_speaker_is_still_down_15_minutes_later(
    clock: Any, client: TestClient, fleet: Fleet, crews: Crews
) -> None:
    terminal = _silent_with_ticket(clock, fleet)
    crew_a = crews.headers("crew_a")
    ticket = _ticket_of(client, crew_a, terminal)
    path = f"/api/v1/tickets/{ticket['id']}"
    clock.move_to(after(TIMEOUT + GRACE + 100))
    assert _post(client, path + "/resolve", crew_a, cause="hardware",
                 resolution="换了电源板").status_code == 200

    sweep_at(clock, TIMEOUT + GRACE + 100 + 14 * 60)
    assert client.get(path, headers=crew_a).json()["status"] == "resolved"
    sweep_at(clock, TIMEOUT + GRACE + 100 + 15 * 60)
    reopened = client.get(path, headers=crew_a).json()
    assert reopened["status"] == "open" and reopened["resolved_at"] is None
    assert reopened["events"][-1]["kind"] == "reopened"
    assert "15 minutes" in reopened["events"][-1]["detail"]["reason"]


def test_reopen_by_hand_and_actions_out_of_order_are_refused(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    terminal = _silent_with_ticket(clock, fleet)
    crew_a = crews.headers("crew_a")
    path = f"/api/v1/tickets/{_ticket_of(client, crew_a, terminal)['id']}"
    assert _post(client, path + "/reopen", crew_a, reason="x").status_code == 409  # still open
    assert _post(client, path + "/resolve", crew_a, cause="meteor",
                 resolution="?").status_code == 422
    _post(client, path + "/claim", crew_a)
    assert _post(client, path + "/claim", admin).status_code == 409  # someone else holds it
    _post(client, path + "/resolve", crew_a, cause="network", resolution="重启了路由器")
    assert _post(client, path + "/claim", crew_a).status_code == 409
    again = _post(client, path + "/reopen", crew_a, reason="村民反映还是听不到")
    assert again.status_code == 200 and again.json()["status"] == "open"
    assert again.json()["claimed_by"] is None
    assert again.json()["events"][-1]["detail"] == {"reason": "村民反映还是听不到"}


def test_staff_see_tickets_in_their_area_and_may_not_work_them(
    clock: Any, client: TestClient, fleet: Fleet, crews: Crews
) -> None:
    mine = _silent_with_ticket(clock, fleet, "v21")
    staff_t1 = crews.district.user("staff_t1", "staff", "t1")
    staff_t2 = crews.district.user("staff_t2", "staff", "t2")
    ticket = _ticket_of(client, staff_t2, mine)
    assert client.get("/api/v1/tickets", headers=staff_t1).json()["total"] == 0
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=staff_t1).status_code == 403
    assert _post(client, f"/api/v1/tickets/{ticket['id']}/claim", staff_t2).status_code == 403
    assert _post(client, f"/api/v1/tickets/{ticket['id']}/comments", staff_t2,
                 text="已电话通知村干部").status_code == 200


def test_a_reported_outage_gets_a_ticket_at_once_and_closes_with_it(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    terminal = fleet.register("v12")
    fleet.beat(terminal)  # the terminal is fine; its amplifier is not
    staff = crews.district.user("staff_t1", "staff", "t1")
    report = _post(client, "/api/v1/outages", staff, speaker=terminal.id, cause="amplifier",
                   note="功放无输出")
    assert report.status_code == 201, report.text
    assert report.json()["source"] == "reported" and report.json()["ticket"]
    ticket = _ticket_of(client, admin, terminal)
    assert (ticket["crew"], ticket["cause"], ticket["status"]) == (crews.a, "amplifier", "open")
    assert ticket["priority"] == "high"  # its village has no other working speaker

    # A second report of the same speaker joins the ticket: never two.
    crew_a = crews.headers("crew_a")
    second = _post(client, "/api/v1/outages", crew_a, speaker=terminal.id, cause="vandalism",
                   note="喇叭线被剪")
    assert second.status_code == 201 and second.json()["ticket"] == ticket["id"]
    assert client.get("/api/v1/tickets", headers=admin).json()["total"] == 1

    # The crew of the other town may not report speakers it does not serve.
    crew_b = crews.headers("crew_b")
    assert _post(client, "/api/v1/outages", crew_b, speaker=terminal.id,
                 cause="other").status_code == 403

    sweep_at(clock, 30)  # a healthy terminal does not close a reported outage
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=admin).json()["status"] == "open"
    clock.move_to(after(60))
    _post(client, f"/api/v1/tickets/{ticket['id']}/resolve", crew_a, cause="amplifier",
          resolution="更换功放")
    fleet.sweep_at(clock, 90, alive=(terminal,))
    assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=admin).json()["status"] == "closed"
    outages = client.get("/api/v1/outages", headers=admin).json()["items"]
    assert len(outages) == 2 and all(o["closed_at"] for o in outages)


def test_never_two_tickets_in_progress_for_one_speaker(
    clock: Any, client: TestClient, fleet: Fleet, crews: Crews
) -> None:
    from app.db import session_scope, utcnow
    from app.maintenance.models import Ticket
    from app.maintenance.service import TicketRequest, open_tickets

    terminal = fleet.register("v11")
    request = TicketRequest(terminal.id, "v11", "other", ())
    with session_scope() as session:
        assert len(open_tickets(session, [request], now=utcnow())) == 1
    with session_scope() as session:  # a second opening joins the first
        assert open_tickets(session, [request, request], now=utcnow()) == []
    with pytest.raises(IntegrityError), session_scope() as session:  # the database refuses too
        session.add(Ticket(speaker_id=terminal.id, village_code="v11", area_path="d1/t1/v11",
                           status="claimed", priority="normal", cause="other",
                           opened_at=utcnow(), due_at=utcnow()))
    with session_scope() as session:
        assert len(session.scalars(select(Ticket)).all()) == 1


def test_overdue_tickets_are_marked_once_and_listed(
    clock: Any, client: TestClient, fleet: Fleet, crews: Crews
) -> None:
    terminal = _silent_with_ticket(clock, fleet)
    crew_a = crews.headers("crew_a")
    ticket = _ticket_of(client, crew_a, terminal)
    assert ticket["priority"] == "high"  # the only speaker of v11: due in 24 h
    due = (datetime.fromisoformat(ticket["due_at"]) - T0).total_seconds()
    sweep_at(clock, due - 1)
    crew_a = crews.headers("crew_a")
    assert client.get("/api/v1/tickets", params={"overdue": True},
                      headers=crew_a).json()["total"] == 0
    sweep_at(clock, due + 1)
    sweep_at(clock, due + 2)
    crew_a = crews.headers("crew_a")
    late = client.get("/api/v1/tickets", params={"overdue": True}, headers=crew_a).json()
    assert late["total"] == 1 and late["items"][0]["speaker"] == terminal.id
    assert late["items"][0]["overdue"] is True
    assert [e["kind"] for e in late["items"][0]["events"]].count("overdue") == 1
    assert client.get("/api/v1/tickets", params={"overdue": False},
                      headers=crew_a).json()["total"] == 0


def test_filters_by_status_town_and_crew(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    east, west = fleet.register("v11"), fleet.register("v21")
    fleet.beat(east, west)
    sweep_at(clock, TIMEOUT + 1)
    sweep_at(clock, TIMEOUT + GRACE + 2)
    listed = {q: [t["speaker"] for t in client.get("/api/v1/tickets", params=dict([q]),
                                                    headers=admin).json()["items"]]
              for q in (("town", "t1"), ("town", "t2"), ("crew", crews.b), ("status", "open"),
                        ("status", "closed"))}
    assert listed[("town", "t1")] == [east.id] and listed[("town", "t2")] == [west.id]
    assert listed[("crew", crews.b)] == [west.id]
    assert sorted(listed[("status", "open")]) == sorted([east.id, west.id])
    assert listed[("status", "closed")] == []
    assert client.get("/api/v1/tickets", params={"status": "lost"},
                      headers=admin).status_code == 422


def test_retiring_a_speaker_closes_its_outages_and_ticket(
    clock: Any, client: TestClient, admin: dict[str, str], fleet: Fleet, crews: Crews
) -> None:
    terminal = _silent_with_ticket(clock, fleet)
    assert client.delete(f"/api/v1/speakers/{terminal.id}", headers=admin).status_code == 204
    [ticket] = client.get("/api/v1/tickets", headers=admin).json()["items"]
    assert ticket["status"] == "closed"
    assert ticket["events"][-1]["detail"] == {"reason": "speaker retired"}
    assert client.get("/api/v1/outages", params={"open": True}, headers=admin).json()["total"] == 0
