"""Urgent broadcasts through the API: issuing, idempotency, scope, quiet hours, cancel, expiry."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from tests.conftest import District

from .conftest import Stored, Terminal, broadcast_body, wait_for

BROADCASTS = "/api/v1/broadcasts"


def post(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], key: str | None = None
) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(BROADCASTS, json=body, headers={**headers, **extra})


def created(response: Any) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json())


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def probe_seconds(data: bytes) -> float:
    """Length of audio bytes, as ffprobe reads them (from a file: the MP3's VBR header counts)."""
    with tempfile.NamedTemporaryFile(suffix=".mp3") as file:
        file.write(data)
        file.flush()
        result = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
                file.name,
            ],
            capture_output=True,
            check=True,
        )
    return float(result.stdout)


def villages(broadcast: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["code"]: v for v in broadcast["villages"]}


# --- issuing ---------------------------------------------------------------------------


def test_a_text_is_synthesised_and_every_village_of_the_town_gets_one_urgent_order(
    client: TestClient,
    district: District,
    terminal: Callable[..., Terminal],
) -> None:
    v11, v21 = terminal("v11"), terminal("v21")

    body = created(
        post(client, district.admin, broadcast_body(text="请各村民立即转移到安全地带。"))
    )

    assert body["status"] == "active" and body["mode"] == "actual" and body["level"] == 2
    assert body["targets"] == ["t1"]
    assert sorted(villages(body)) == ["v11", "v12"]
    assert at(body["expires_at"]) - at(body["created_at"]) == pytest.approx(
        timedelta(hours=1), abs=timedelta(seconds=5)
    )
    [speech] = body["media"]
    audio = client.get(speech["url"])
    assert audio.status_code == 200
    assert probe_seconds(audio.content) == pytest.approx(speech["duration_ms"] / 1000, abs=0.3)
    assert speech["duration_ms"] > 2000
    [order] = v11.urgent_orders()
    assert order["broadcast"] == body["id"] and order["level"] == 2 and order["priority"] == 3
    assert order["mode"] == "actual"
    assert [m["sha256"] for m in order["media"]] == [speech["sha256"]]
    assert at(order["not_after"]) == at(body["expires_at"])
    assert v21.urgent_orders() == []


def test_levels_map_to_priorities_and_the_terminal_sees_them(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    v11 = terminal("v11")
    sha = stored.recording()["sha256"]
    for level in (1, 2, 3, 4):
        created(
            post(client, district.admin, broadcast_body(level=level, targets=["v11"], media=sha))
        )

    orders = v11.urgent_orders()
    assert sorted((o["level"], o["priority"]) for o in orders) == [(1, 4), (2, 3), (3, 2), (4, 1)]
    issued = [at(o["issued_at"]) for o in sorted(orders, key=lambda o: o["level"])]
    assert issued == sorted(issued)  # first come first: the order of the requests


# --- idempotency -------------------------------------------------------------------------


def test_the_same_key_and_body_answer_the_same_broadcast_and_issue_once(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    v11 = terminal("v11")
    body = broadcast_body(media=stored.recording()["sha256"])

    first = created(post(client, district.admin, body, key="alarm-0001"))
    reordered = dict(reversed(list(body.items())))
    again = post(client, district.admin, reordered, key="alarm-0001")

    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert client.get(BROADCASTS, headers=district.admin).json()["total"] == 1
    assert len(v11.urgent_orders()) == 1


def test_the_same_key_with_another_body_is_409_and_changes_nothing(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    sha = stored.recording()["sha256"]
    first = created(post(client, district.admin, broadcast_body(media=sha), key="k-1"))

    other = post(client, district.admin, broadcast_body(media=sha, level=1), key="k-1")

    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_conflict"
    assert other.json()["broadcast"] == first["id"]
    listed = client.get(BROADCASTS, headers=district.admin).json()
    assert listed["total"] == 1 and listed["items"][0]["level"] == 2


def test_without_a_key_every_request_broadcasts_and_keys_are_per_caller(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    body = broadcast_body(media=stored.recording()["sha256"])
    staff = district.user("zhang", "staff", "d1")

    one = created(post(client, district.admin, body))
    two = created(post(client, district.admin, body))
    mine = created(post(client, district.admin, body, key="shared"))
    theirs = created(post(client, staff, body, key="shared"))

    assert len({one["id"], two["id"], mine["id"], theirs["id"]}) == 4


def test_two_requests_racing_with_one_key_make_one_broadcast(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    from app.auth.permissions import SYSTEM
    from app.broadcasts.flows import create_broadcast
    from app.broadcasts.schemas import BroadcastCreate
    from app.db import session_scope

    data = BroadcastCreate(**broadcast_body(media=stored.recording()["sha256"]))
    barrier, results, errors = threading.Barrier(2), [], []

    def attempt() -> None:
        try:
            with session_scope() as session:
                barrier.wait()
                issued = create_broadcast(
                    session=session, principal=SYSTEM, data=data, idempotency_key="race"
                )
                results.append((issued.broadcast.id, issued.created))
        except Exception as exc:  # collected: the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len({broadcast_id for broadcast_id, _ in results}) == 1
    assert sorted(was_created for _, was_created in results) == [False, True]
    assert client.get(BROADCASTS, headers=district.admin).json()["total"] == 1


# --- validation and scope ------------------------------------------------------------------


def test_a_text_over_2000_characters_is_a_clear_422_and_nothing_is_made(
    client: TestClient,
    district: District,
) -> None:
    response = post(client, district.admin, broadcast_body(text="请注意安全。" * 334))

    assert response.status_code == 422
    assert "2,000 characters" in response.json()["detail"]
    assert client.get(BROADCASTS, headers=district.admin).json()["total"] == 0


def test_malformed_requests_are_422_naming_the_problem(
    client: TestClient, district: District
) -> None:
    for change, field in [
        ({"level": 5, "media": "0" * 64}, "level"),
        ({"level": 0, "media": "0" * 64}, "level"),
        ({}, "give exactly one of text, announcement or media"),
        ({"text": "撤离。", "media": "0" * 64}, "give exactly one"),
        ({"media": "0" * 64, "mode": "drill"}, "mode"),
        ({"media": "0" * 64, "targets": []}, "targets"),
        ({"media": "0" * 64, "expires_at": "2030-01-01T08:00:00"}, "expires_at"),
        ({"media": "0" * 64, "loop": 0}, "loop"),
    ]:
        response = post(client, district.admin, broadcast_body(**change))

        assert response.status_code == 422, change
        assert field in response.json()["detail"], change


def test_unknown_targets_media_and_past_expiry_are_422(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    sha = stored.recording()["sha256"]
    unknown_area = post(
        client, district.admin, broadcast_body(targets=["t1", "nowhere"], media=sha)
    )
    unknown_media = post(client, district.admin, broadcast_body(media="ab" * 32))
    past = post(
        client,
        district.admin,
        broadcast_body(
            media=sha, expires_at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        ),
    )

    assert unknown_area.status_code == 422 and unknown_area.json()["areas"] == ["nowhere"]
    assert unknown_media.status_code == 422 and unknown_media.json()["error"] == "unknown_media"
    assert past.status_code == 422 and past.json()["error"] == "already_expired"
    assert client.get(BROADCASTS, headers=district.admin).json()["total"] == 0


def _api_key(
    client: TestClient, admin: dict[str, str], scopes: list[str], area: str
) -> dict[str, str]:
    response = client.post(
        "/api/v1/api-keys",
        headers=admin,
        json={"name": f"command centre {area}", "scopes": scopes, "area": area},
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


def test_who_may_broadcast_where(client: TestClient, district: District, stored: Stored) -> None:
    sha = stored.recording()["sha256"]
    staff_t1 = district.user("li", "staff", "t1")
    reviewer = district.user("wang", "reviewer", "d1")
    key_t1 = _api_key(client, district.admin, ["broadcasts:write", "broadcasts:read"], "t1")
    read_only = _api_key(client, district.admin, ["broadcasts:read"], "d1")

    assert post(client, staff_t1, broadcast_body(targets=["v11"], media=sha)).status_code == 201
    assert post(client, staff_t1, broadcast_body(targets=["t2"], media=sha)).status_code == 403
    assert post(client, staff_t1, broadcast_body(targets=["d1"], media=sha)).status_code == 403
    assert post(client, reviewer, broadcast_body(media=sha)).status_code == 403
    assert post(client, key_t1, broadcast_body(targets=["v12"], media=sha)).status_code == 201
    assert post(client, key_t1, broadcast_body(targets=["v21"], media=sha)).status_code == 403
    assert post(client, read_only, broadcast_body(media=sha)).status_code == 403
    assert client.post(BROADCASTS, json=broadcast_body(media=sha)).status_code == 401


def test_a_key_that_sends_broadcasts_can_follow_them(
    client: TestClient, district: District, stored: Stored
) -> None:
    sha = stored.recording()["sha256"]
    centre = _api_key(client, district.admin, ["broadcasts:write"], "t1")
    tree_reader = _api_key(client, district.admin, ["areas:read"], "d1")

    sent = created(post(client, centre, broadcast_body(targets=["v11"], media=sha)))
    followed = client.get(f"{BROADCASTS}/{sent['id']}", headers=centre)
    listed = client.get(BROADCASTS, headers=centre)

    assert followed.status_code == 200 and followed.json()["id"] == sent["id"]
    assert listed.status_code == 200 and [b["id"] for b in listed.json()["items"]] == [sent["id"]]
    assert client.get("/api/v1/areas", headers=tree_reader).status_code == 200
    new_area = {"code": "v13", "name": "东三村", "level": "village", "parent": "t1"}
    refused = client.post("/api/v1/areas", headers=tree_reader, json=new_area)
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert post(client, tree_reader, broadcast_body(media=sha)).status_code == 403


def test_staff_see_the_broadcasts_of_their_area_only(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    sha = stored.recording()["sha256"]
    staff_t1, staff_t2 = district.user("li", "staff", "t1"), district.user("he", "staff", "t2")
    east = created(post(client, staff_t1, broadcast_body(targets=["v11"], media=sha)))

    assert client.get(f"{BROADCASTS}/{east['id']}", headers=staff_t1).status_code == 200
    assert client.get(f"{BROADCASTS}/{east['id']}", headers=staff_t2).status_code == 403
    assert client.get(BROADCASTS, headers=staff_t2).json()["total"] == 0
    assert client.post(f"{BROADCASTS}/{east['id']}/cancel", headers=staff_t2).status_code == 403
    assert client.get(f"{BROADCASTS}/brd_unknown", headers=district.admin).status_code == 404


# --- content -----------------------------------------------------------------------------


def _approved_announcement(client: TestClient, district: District) -> str:
    writer, reviewer = (
        district.user("writer", "staff", "d1"),
        district.user("checker", "reviewer", "d1"),
    )
    made = client.post(
        "/api/v1/announcements",
        headers=writer,
        json={"title": "防汛通知", "body": "请注意防汛。", "area": "d1"},
    )
    announcement = made.json()["id"]
    assert (
        client.post(f"/api/v1/announcements/{announcement}/submit", headers=writer).status_code
        == 200
    )
    assert (
        client.post(f"/api/v1/announcements/{announcement}/approve", headers=reviewer).status_code
        == 200
    )
    wait_for(
        lambda: (
            (
                client.get(f"/api/v1/announcements/{announcement}", headers=writer).json()["audio"]
                or {}
            ).get("status")
            == "ready"
        ),
        timeout=60,
    )
    return str(announcement)


def test_an_approved_announcement_plays_its_rendered_audio(
    client: TestClient,
    district: District,
) -> None:
    announcement = _approved_announcement(client, district)
    audio = client.get(f"/api/v1/announcements/{announcement}", headers=district.admin).json()[
        "audio"
    ]
    draft = client.post(
        "/api/v1/announcements",
        headers=district.admin,
        json={"title": "草稿", "body": "未审核。", "area": "d1"},
    ).json()["id"]

    body = created(post(client, district.admin, broadcast_body(announcement=announcement)))
    unapproved = post(client, district.admin, broadcast_body(announcement=draft))
    unknown = post(client, district.admin, broadcast_body(announcement="ann_nothing"))

    assert body["content"] == "announcement" and body["announcement"] == announcement
    assert [m["sha256"] for m in body["media"]] == [audio["sha256"]]
    assert unapproved.status_code == 409 and unapproved.json()["error"] == "not_approved"
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_announcement"


def test_an_exercise_opens_and_closes_with_the_drill_notice_and_a_test_is_marked_test(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    v11 = terminal("v11")
    recording = stored.recording()
    actual = created(
        post(client, district.admin, broadcast_body(targets=["v11"], media=recording["sha256"]))
    )
    drill = created(
        post(
            client,
            district.admin,
            broadcast_body(targets=["v11"], media=recording["sha256"], mode="exercise"),
        )
    )
    test = created(
        post(
            client,
            district.admin,
            broadcast_body(targets=["v11"], media=recording["sha256"], mode="test"),
        )
    )

    assert [m["sha256"] for m in actual["media"]] == [recording["sha256"]]
    assert [m["title"] for m in drill["media"]][::2] == ["演习提示", "演习结束"]
    assert drill["media"][1]["sha256"] == recording["sha256"]
    assert drill["duration_ms"] > actual["duration_ms"] + 3000  # two spoken notices
    for notice in (drill["media"][0], drill["media"][2]):
        assert probe_seconds(client.get(notice["url"]).content) > 1.0
    modes = {o["broadcast"]: o["mode"] for o in v11.urgent_orders()}
    assert modes == {actual["id"]: "actual", drill["id"]: "exercise", test["id"]: "test"}
    assert test["media"] == actual["media"]  # the same audio: the whole chain is tested


# --- quiet hours ---------------------------------------------------------------------------


@pytest.fixture
def quiet_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Quiet hours from an hour ago until two hours from now (local time); their end."""
    from app.config import get_settings, reset_settings

    zone = get_settings().tz
    now = datetime.now(zone).replace(second=0, microsecond=0)
    start, end = now - timedelta(hours=1), now + timedelta(hours=2)
    monkeypatch.setenv("CUNXIANG_QUIET_HOURS", f"{start:%H:%M}-{end:%H:%M}")
    reset_settings()
    return end.astimezone(UTC)


def test_levels_iii_and_iv_wait_for_the_end_of_quiet_hours_i_and_ii_do_not(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
    quiet_now: datetime,
) -> None:
    v11 = terminal("v11")
    sha = stored.recording()["sha256"]
    later = (quiet_now + timedelta(hours=1)).isoformat()

    urgent = created(post(client, district.admin, broadcast_body(targets=["v11"], media=sha)))
    waiting = created(
        post(
            client,
            district.admin,
            broadcast_body(targets=["v11"], media=sha, level=3, expires_at=later),
        )
    )
    # No expiry given: its hour counts from the deferred start, not from now (it used to end
    # before quiet hours did, so it never played and nobody was told).
    deferred = created(
        post(client, district.admin, broadcast_body(targets=["v11"], media=sha, level=4))
    )
    too_soon = post(client, district.admin, broadcast_body(
        targets=["v11"], media=sha, level=4,
        expires_at=(quiet_now - timedelta(minutes=5)).isoformat()))

    assert at(urgent["start_at"]) == at(urgent["created_at"])
    assert at(waiting["start_at"]) == quiet_now and waiting["status"] == "active"
    assert deferred["status"] == "active" and at(deferred["start_at"]) == quiet_now
    assert at(deferred["expires_at"]) == quiet_now + timedelta(hours=1)
    assert too_soon.status_code == 422, too_soon.text
    refusal = too_soon.json()
    assert refusal["error"] == "expires_before_start" and at(refusal["start_at"]) == quiet_now
    assert "quiet hours" in refusal["detail"]
    starts = {o["broadcast"]: at(o["start_at"]) for o in v11.urgent_orders()}
    assert starts == {urgent["id"]: at(urgent["start_at"]), waiting["id"]: quiet_now,
                      deferred["id"]: quiet_now}
    orders = {o["broadcast"]: o for o in v11.urgent_orders()}
    assert at(orders[deferred["id"]]["not_after"]) == quiet_now + timedelta(hours=1)


# --- cancel, expiry, status ----------------------------------------------------------------


def test_cancel_takes_the_order_out_of_every_program(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    v11 = terminal("v11")
    body = created(post(client, district.admin, broadcast_body(media=stored.recording()["sha256"])))
    before = v11.program()

    cancelled = client.post(f"{BROADCASTS}/{body['id']}/cancel", headers=district.admin)
    again = client.post(f"{BROADCASTS}/{body['id']}/cancel", headers=district.admin)

    assert cancelled.status_code == 200
    assert (
        cancelled.json()["status"] == "cancelled"
        and cancelled.json()["cancelled_by"] == "user:admin"
    )
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    after = v11.program()
    assert after["version"] > before["version"] and after["orders"] == []
    assert client.get(f"{BROADCASTS}?active=true", headers=district.admin).json()["total"] == 0
    assert client.get(f"{BROADCASTS}?active=false", headers=district.admin).json()["total"] == 1


def test_expiry_ends_the_broadcast_and_its_unplayed_orders(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    from app.broadcasts.jobs import sweep_broadcasts

    v11 = terminal("v11")
    body = created(post(client, district.admin, broadcast_body(media=stored.recording()["sha256"])))

    assert sweep_broadcasts() == {"finished": [], "expired": []}
    with time_machine.travel(at(body["expires_at"]) + timedelta(seconds=1)):
        assert sweep_broadcasts() == {"finished": [], "expired": [body["id"]]}
        assert v11.urgent_orders() == []
        shown = client.get(f"{BROADCASTS}/{body['id']}", headers=district.admin).json()
    assert shown["status"] == "expired" and shown["ended_at"] is not None
    assert {v["state"] for v in shown["villages"]} == {"unreachable"}  # nobody was heard


def test_village_states_follow_fetches_receipts_and_health(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    online, silent = terminal("v11"), terminal("v12")
    online.heartbeat()
    body = created(post(client, district.admin, broadcast_body(media=stored.recording()["sha256"])))
    url = f"{BROADCASTS}/{body['id']}"

    def state() -> dict[str, dict[str, Any]]:
        return villages(client.get(url, headers=district.admin).json())

    assert villages(body)["v11"]["state"] == "pending"
    assert villages(body)["v11"]["speakers"] == {"total": 1, "online": 1, "confirmed": 0}
    assert villages(body)["v12"]["state"] == "unreachable"
    [order] = online.urgent_orders()
    wait_for(lambda: state()["v11"]["state"] == "delivered", timeout=5)  # deliveries are batched
    online.receipt(order["id"], "started")
    assert state()["v11"]["state"] == "playing"
    assert state()["v11"]["speakers"]["confirmed"] == 1
    online.receipt(order["id"], "finished")
    assert state()["v11"]["state"] == "played"
    assert client.get(url, headers=district.admin).json()["status"] == "active"
    [late] = silent.urgent_orders()  # the silent speaker held it and played it offline
    silent.receipt(late["id"], "finished")

    final = client.get(url, headers=district.admin).json()
    assert {v["state"] for v in final["villages"]} == {"played"}
    assert final["villages"][1]["speakers"]["online"] == 0  # a receipt wins over health
    assert final["status"] == "finished" and final["ended_at"] is not None
    audit = client.get("/api/v1/audit?entity=broadcast", headers=district.admin).json()["items"]
    assert [(e["action"], e["actor"]) for e in audit][:1] == [("finished", "system:cunxiang")]


def test_a_village_without_any_speaker_online_is_unreachable_and_failed_receipts_fail(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    working = terminal("v11")
    working.heartbeat()
    body = created(
        post(
            client,
            district.admin,
            broadcast_body(targets=["d1"], media=stored.recording()["sha256"]),
        )
    )
    [order] = working.urgent_orders()
    working.receipt(order["id"], "failed")

    shown = villages(client.get(f"{BROADCASTS}/{body['id']}", headers=district.admin).json())
    assert shown["v11"]["state"] == "failed"
    assert shown["v12"] == {
        **shown["v12"],
        "state": "unreachable",
        "speakers": {"total": 0, "online": 0, "confirmed": 0},
    }
    assert shown["v21"]["state"] == "unreachable"


def test_the_calendar_shows_urgent_orders_cutting_in_level_ii_before_level_iii(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    sha = stored.recording(seconds=2.0)["sha256"]
    third = created(
        post(client, district.admin, broadcast_body(targets=["v11"], media=sha, level=3))
    )
    second = created(
        post(client, district.admin, broadcast_body(targets=["v11"], media=sha, level=2))
    )

    start = datetime.now(UTC) - timedelta(minutes=1)
    calendar = client.get(
        "/api/v1/villages/v11/calendar",
        headers=district.admin,
        params={"from": start.isoformat(), "to": (start + timedelta(hours=2)).isoformat()},
    )
    assert calendar.status_code == 200, calendar.text
    urgent = {e["broadcast"]: e for e in calendar.json()["items"] if e["kind"] == "urgent"}
    assert set(urgent) == {third["id"], second["id"]}
    first_air = {b: min(at(a["start_at"]) for a in e["air"]) for b, e in urgent.items()}
    assert first_air[third["id"]] < first_air[second["id"]]  # III began, II cut in
    last_air = {b: max(at(a["end_at"]) for a in e["air"]) for b, e in urgent.items()}
    assert last_air[second["id"]] < last_air[third["id"]]  # … and III resumed after II


def test_metrics_count_urgent_orders_and_time_the_fan_out(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    def sample(name: str) -> float:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                if name.endswith("_total") and 'kind="urgent"' not in line:
                    continue
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    issued, fanouts = (
        sample("cunxiang_orders_issued_total"),
        sample("cunxiang_broadcast_fanout_seconds_count"),
    )
    created(
        post(
            client,
            district.admin,
            broadcast_body(targets=["d1"], media=stored.recording()["sha256"]),
        )
    )

    assert sample("cunxiang_orders_issued_total") == issued + 3
    assert sample("cunxiang_broadcast_fanout_seconds_count") == fanouts + 1


def test_creating_and_cancelling_are_audited(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    body = created(post(client, district.admin, broadcast_body(media=stored.recording()["sha256"])))
    client.post(f"{BROADCASTS}/{body['id']}/cancel", headers=district.admin)

    entries = client.get("/api/v1/audit?entity=broadcast", headers=district.admin).json()["items"]
    assert [(e["action"], e["entity_id"], e["actor"]) for e in entries] == [
        ("cancel", body["id"], "user:admin"),
        ("create", body["id"], "user:admin"),
    ]
    assert entries[1]["after"]["villages"] == 2


def test_idempotency_keys_are_kept_a_day_at_least_then_forgotten(
    client: TestClient,
    district: District,
    stored: Stored,
) -> None:
    from app.broadcasts.jobs import sweep_broadcasts

    sha = stored.recording()["sha256"]
    centre = _api_key(client, district.admin, ["broadcasts:write"], "d1")  # keys do not expire
    first = created(post(client, centre, broadcast_body(media=sha), key="daily"))

    with time_machine.travel(at(first["created_at"]) + timedelta(hours=24, minutes=1)):
        sweep_broadcasts()
        kept = post(client, centre, broadcast_body(media=sha), key="daily")
    with time_machine.travel(at(first["created_at"]) + timedelta(hours=49)):
        sweep_broadcasts()
        fresh = post(client, centre, broadcast_body(media=sha, level=1), key="daily")

    assert kept.status_code == 200 and kept.json()["id"] == first["id"]
    assert fresh.status_code == 201 and fresh.json()["id"] != first["id"]


def test_a_heartbeat_counts_for_the_very_next_status_read(
    client: TestClient,
    district: District,
    stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    """Heartbeats are written in batches, but a broadcast's status never lags behind one."""
    speaker = terminal("v11")
    body = created(post(client, district.admin, broadcast_body(
        targets=["v11"], media=stored.recording()["sha256"])))
    assert villages(body)["v11"]["state"] == "unreachable"
    speaker.heartbeat(wait_online=False)  # no speakers read in between (that writes them too)
    shown = client.get(f"{BROADCASTS}/{body['id']}", headers=district.admin).json()
    assert villages(shown)["v11"]["state"] == "pending"
    assert villages(shown)["v11"]["speakers"]["online"] == 1
    listed = client.get(BROADCASTS, headers=district.admin).json()["items"]
    assert villages(listed[0])["v11"]["speakers"]["online"] == 1
