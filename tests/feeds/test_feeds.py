"""Official warning feeds against a real local HTTP server: Atom and CAP-index feeds built from
the shared real CAP documents plus CMA-style ones; conditional GET, dedupe across polls,
relay / hold / ignore by severity, Update and Cancel, review, and errors in feed health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient

from tests.broadcasts.cap_factory import real_cap
from tests.conftest import District
from tests.feeds.cma import cma_cap, reference
from tests.feeds.server import FeedServer, Resource

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEEDS, ITEMS = "/api/v1/feeds", "/api/v1/feed-items"
DIVISIONS = {"d1": "130132", "t1": "130132100", "v11": "130132100201",
             "v12": "130132100202", "t2": "130132101", "v21": "130132101201"}
# A point inside the polygon of the real NWS thunderstorm warning (file 02).
IN_THUNDERSTORM = (38.48, -119.93)


def real(name: str) -> bytes:
    """One of the shared real CAP documents, as stored (the test is skipped where absent)."""
    return real_cap(name)


def atom(entries: list[tuple[str, str, bytes | str]]) -> bytes:
    """An Atom feed: (id, updated, link path or inline CAP bytes) per entry."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<feed xmlns="http://www.w3.org/2005/Atom"><title>预警</title><id>urn:test</id>'
             '<updated>2026-12-01T00:00:00Z</updated>']
    for entry_id, updated, target in entries:
        parts.append(f"<entry><id>{entry_id}</id><title>alert</title><updated>{updated}"
                     "</updated>")
        if isinstance(target, bytes):
            inline = target.decode().split("?>", 1)[-1]
            parts.append(f'<content type="application/cap+xml">{inline}</content>')
        else:
            parts.append(f'<link rel="alternate" type="application/cap+xml" '
                         f'href="{escape(target)}"/>')
        parts.append("</entry>")
    parts.append("</feed>")
    return "".join(parts).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    """The local feed server (stopped after the test)."""
    running = FeedServer().start()
    yield running
    running.stop()


@pytest.fixture
def coded(client: TestClient, district: District) -> District:
    """The district with official division codes, and a positioned speaker in v21."""
    for code, division in DIVISIONS.items():
        response = client.patch(f"/api/v1/areas/{code}", headers=district.admin,
                                json={"division_code": division})
        assert response.status_code == 200, response.text
    assert client.get("/api/v1/areas/t1", headers=district.admin).json()[
        "division_code"] == "130132100000"
    for serial, village, position in (("SN-V11", "v11", None), ("SN-V21", "v21",
                                                                IN_THUNDERSTORM)):
        body: dict[str, Any] = {"serial": serial, "village": village}
        if position:
            body.update(lat=position[0], lon=position[1])
        assert client.post("/api/v1/speakers", headers=district.admin,
                           json=body).status_code == 201
    return district


def add_feed(client: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(FEEDS, headers=admin, json={"area": "d1", "kind": "atom", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def poll(client: TestClient, admin: dict[str, str], feed: dict[str, Any]) -> dict[str, Any]:
    response = client.post(f"{FEEDS}/{feed['id']}/poll", headers=admin)
    assert response.status_code == 200, response.text
    return dict(response.json())


def items(client: TestClient, headers: dict[str, str], **query: Any) -> dict[str, dict[str, Any]]:
    response = client.get(ITEMS, headers=headers, params={"limit": 1000, **query})
    assert response.status_code == 200, response.text
    return {i["identifier"] or i["id"]: i for i in response.json()["items"]}


def broadcast(client: TestClient, admin: dict[str, str], broadcast_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=admin).json())


def test_an_atom_feed_is_relayed_held_and_ignored_by_severity_and_polled_conditionally(
    client: TestClient, coded: District, server: FeedServer,
) -> None:
    admin = coded.admin
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    orange = cma_cap(1, now - timedelta(minutes=5), "Severe", ["130132100000"])  # town t1
    yellow = cma_cap(2, now - timedelta(minutes=4), "Moderate", ["130132000000"])  # county
    elsewhere = cma_cap(3, now - timedelta(minutes=3), "Extreme", ["130133000000"])
    server.resources.update({
        "/cap/orange.xml": Resource(orange), "/cap/thunderstorm.xml": Resource(real("02")),
        "/cap/missing-scope.cap": Resource(real("30")), "/cap/bom.cap": Resource(real("16")),
        "/cap/system.xml": Resource(cma_cap(4, now, "Minor", ["130132"], status="System")),
    })
    entries: list[tuple[str, str, bytes | str]] = [
        ("urn:1", "2026-12-01T00:01:00Z", "/cap/orange.xml"),
        ("urn:2", "2026-12-01T00:02:00Z", yellow),
        ("urn:3", "2026-12-01T00:03:00Z", elsewhere),
        ("urn:4", "2026-12-01T00:04:00Z", "/cap/thunderstorm.xml"),
        ("urn:5", "2026-12-01T00:05:00Z", "/cap/missing-scope.cap"),
        ("urn:6", "2026-12-01T00:06:00Z", "/cap/bom.cap"),
        ("urn:7", "2026-12-01T00:07:00Z", "/cap/system.xml"),
    ]
    server.resources["/feed.atom"] = Resource(atom(entries), "application/atom+xml")
    feed = add_feed(client, admin, name="河北预警", url=server.url + "/feed.atom")

    first = poll(client, admin, feed)

    assert first["ok"] and (first["entries"], first["new"]) == (7, 7)
    assert first["outcomes"] == {"relayed": 1, "held": 1, "outside": 2, "ignored": 1,
                                 "invalid": 1, "not_broadcast": 1}
    seen = items(client, admin)
    relayed = seen[reference(orange).split(",")[1]]
    assert (relayed["state"], relayed["villages"]) == ("relayed", ["v11", "v12"])
    made = broadcast(client, admin, relayed["broadcast"])
    assert made["created_by"] == "feed:河北预警" and made["level"] == 2
    assert made["text"].startswith("元氏县气象台发布暴雨橙色预警信号。")  # the Chinese <info>
    assert made["cap"]["identifier"] == relayed["identifier"]
    held = seen[reference(yellow).split(",")[1]]
    assert held["state"] == "held" and held["villages"] == ["v11", "v12", "v21"]
    thunder = seen["KSTO1055887203"]  # real NWS polygon: the v21 speaker stands inside it
    assert (thunder["state"], thunder["villages"]) == ("ignored", ["v21"])
    assert thunder["detail"] == "expired before it was seen"
    assert seen[reference(elsewhere).split(",")[1]]["state"] == "outside"
    # Only geocodes (Australian AMOC) that name no area here: valid CAP, for no village of ours.
    assert seen["AusBoM-IDN21033-2019-01-16T03:15:58+00:00"]["state"] == "outside"
    # Refused as the API refuses it: no <scope>.
    invalid = [i["detail"] for i in seen.values() if i["state"] == "invalid"]
    assert len(invalid) == 1 and "missing the required element <scope>" in invalid[0]

    second = poll(client, admin, feed)
    assert second == {"feed": feed["id"], "ok": True, "not_modified": True, "entries": 0,
                      "new": 0, "outcomes": {}, "error": None}
    conditional = [h for p, h in server.requests if p == "/feed.atom"][-1]
    assert conditional["If-None-Match"] == server.resources["/feed.atom"].etag
    assert conditional["If-Modified-Since"] == "Tue, 01 Dec 2026 00:00:00 GMT"

    # The same alerts again under new entry ids and times: fetched, but recorded once.
    server.resources["/feed.atom"] = Resource(atom(
        [(f"urn:again:{i}", "2026-12-02T00:00:00Z", t) for i, (_, _, t) in enumerate(entries)]),
        "application/atom+xml")
    third = poll(client, admin, feed)
    # Inline alerts are known by their content; linked ones are fetched and recognised.
    assert third["new"] == 5 and third["outcomes"] == {"duplicate": 4, "invalid": 1}
    assert len(items(client, admin)) == 8  # an unreadable one cannot be told apart
    assert server.paths().count("/cap/orange.xml") == 2
    assert client.get(f"{FEEDS}/{feed['id']}", headers=admin).json()["held"] == 1


def test_update_and_cancel_apply_to_what_was_relayed_and_held(
    client: TestClient, coded: District, server: FeedServer,
) -> None:
    admin = coded.admin
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    orange = cma_cap(1, now - timedelta(minutes=9), "Severe", ["130132100000"])
    yellow = cma_cap(2, now - timedelta(minutes=8), "Moderate", ["130132101"])
    entries: list[tuple[str, str, bytes | str]] = [("a", "1", orange), ("b", "2", yellow)]
    server.resources["/index"] = Resource(atom(entries))
    feed = add_feed(client, admin, name="省级12379", url=server.url + "/index")
    poll(client, admin, feed)
    before = items(client, admin)
    first_broadcast = before[reference(orange).split(",")[1]]["broadcast"]

    red = cma_cap(3, now - timedelta(minutes=2), "Extreme", ["130132100000"],
                  msg_type="Update", references=reference(orange))
    cancel_yellow = cma_cap(4, now - timedelta(minutes=1), "Moderate", ["130132101"],
                            msg_type="Cancel", references=reference(yellow))
    server.resources["/index"] = Resource(atom([*entries, ("c", "3", red),
                                                ("d", "4", cancel_yellow)]))
    report = poll(client, admin, feed)

    assert report["outcomes"] == {"relayed": 1, "ignored": 1}
    after = items(client, admin)
    update = after[reference(red).split(",")[1]]
    assert update["state"] == "relayed" and update["msg_type"] == "Update"
    old = broadcast(client, admin, first_broadcast)
    assert (old["status"], old["replaced_by"]) == ("cancelled", update["broadcast"])
    assert broadcast(client, admin, update["broadcast"])["level"] == 1
    cancelled = after[reference(yellow).split(",")[1]]
    assert cancelled["state"] == "cancelled" and "Cancel" in cancelled["detail"]
    assert after[reference(cancel_yellow).split(",")[1]]["detail"] == "cancels held alert(s)"

    cancel_red = cma_cap(5, now, "Extreme", ["130132100000"], msg_type="Cancel",
                         references=reference(red))
    server.resources["/index"] = Resource(atom([("e", "5", cancel_red)]))
    assert poll(client, admin, feed)["outcomes"] == {"relayed": 1}
    assert broadcast(client, admin, update["broadcast"])["status"] == "cancelled"


def test_reviewers_relay_or_dismiss_held_alerts_in_their_area(
    client: TestClient, coded: District, server: FeedServer,
) -> None:
    admin = coded.admin
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    east = cma_cap(1, now, "Moderate", ["130132100"])  # t1
    west = cma_cap(2, now, "Minor", ["130132101201"])  # v21
    server.resources["/alerts"] = Resource(
        b'<?xml version="1.0"?><alerts xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
        + east.split(b"?>", 1)[1] + west.split(b"?>", 1)[1] + b"</alerts>")
    feed = add_feed(client, admin, name="index", kind="cap_index",
                    url=server.url + "/alerts", rules={"Minor": "hold"})
    assert poll(client, admin, feed)["outcomes"] == {"held": 2}
    reviewer = coded.user("checker", "reviewer", "t1")
    staff_west = coded.user("west", "staff", "t2")

    mine = items(client, reviewer, state="held")
    east_id = mine[reference(east).split(",")[1]]["id"]
    west_id = items(client, admin, state="held")[reference(west).split(",")[1]]["id"]
    assert client.post(f"{ITEMS}/{west_id}/relay", headers=reviewer).status_code == 403
    relayed = client.post(f"{ITEMS}/{east_id}/relay", headers=reviewer)
    assert relayed.status_code == 200, relayed.text
    assert relayed.json()["state"] == "relayed" and relayed.json()["decided_by"] == "user:checker"
    made = broadcast(client, admin, relayed.json()["broadcast"])
    assert made["created_by"] == "feed:index" and {v["code"] for v in made["villages"]} == {
        "v11", "v12"}
    again = client.post(f"{ITEMS}/{east_id}/relay", headers=reviewer)
    assert again.status_code == 409 and again.json()["error"] == "not_held"

    dismissed = client.post(f"{ITEMS}/{west_id}/dismiss", headers=staff_west,
                            json={"reason": "已电话通知"})
    assert dismissed.status_code == 200 and dismissed.json()["state"] == "dismissed"
    audit = client.get("/api/v1/audit", headers=admin, params={"entity": "feed_item"}).json()
    assert sorted((e["action"], e["actor"]) for e in audit["items"]) == [
        ("dismiss", "user:west"), ("relay", "user:checker")]
    created = client.get("/api/v1/audit", headers=admin, params={"entity": "broadcast"}).json()
    assert [e["actor"] for e in created["items"] if e["action"] == "create"] == ["feed:index"]


def test_a_slow_and_a_broken_feed_show_in_health_without_stopping_the_others(
    client: TestClient, coded: District, server: FeedServer,
) -> None:
    from app.feeds.poller import poll_due_feeds

    admin = coded.admin
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    server.resources["/good"] = Resource(atom([("g", "1", cma_cap(1, now, "Moderate",
                                                                  ["130132"]))]))
    server.resources["/slow"] = Resource(atom([]), delay=3.0)
    server.resources["/broken"] = Resource(b"<feed><entry>")
    good = add_feed(client, admin, name="good", url=server.url + "/good")
    slow = add_feed(client, admin, name="slow", url=server.url + "/slow", timeout_seconds=1)
    broken = add_feed(client, admin, name="broken", url=server.url + "/broken")
    add_feed(client, admin, name="gone", url=server.url + "/missing")

    reports = {r.feed: r for r in poll_due_feeds()}

    assert reports[good["id"]].ok and reports[good["id"]].outcomes == {"held": 1}
    assert "timed out" in (reports[slow["id"]].error or "")
    assert "not well-formed" in (reports[broken["id"]].error or "")
    listed = {f["name"]: f["health"] for f in client.get(FEEDS, headers=admin).json()["items"]}
    assert listed["good"]["ok"] and listed["good"]["last_success_at"] is not None
    assert (listed["slow"]["ok"], listed["slow"]["consecutive_errors"]) == (False, 1)
    assert "HTTP 404" in listed["gone"]["last_error"]
    assert listed["broken"]["last_success_at"] is None
    assert poll_due_feeds() == []  # each waits for its interval
    metrics = client.get("/metrics").text
    assert 'cunxiang_feed_last_success_timestamp_seconds{feed="good"}' in metrics
    assert 'cunxiang_feed_errors_total{feed="slow"} 1.0' in metrics
    assert 'cunxiang_feed_last_success_timestamp_seconds{feed="slow"}' not in metrics


def test_a_real_warning_is_relayed_while_it_is_in_force(
    client: TestClient, coded: District, server: FeedServer,
) -> None:
    from app.feeds.poller import poll_feed

    server.resources["/nws"] = Resource(atom([("k", "1", "/cap/02.xml")]))
    server.resources["/cap/02.xml"] = Resource(real("02"))
    feed = add_feed(client, coded.admin, name="nws", url=server.url + "/nws")
    with time_machine.travel(datetime(2003, 6, 17, 22, 0, tzinfo=UTC)):
        report = poll_feed(feed["id"])
    assert report.outcomes == {"relayed": 1}, report
    [item] = items(client, coded.admin).values()
    made = broadcast(client, coded.admin, item["broadcast"])
    assert [v["code"] for v in made["villages"]] == ["v21"] and made["level"] == 2
    assert made["cap"]["sender"] == "KSTO@NWS.NOAA.GOV"


def test_feed_administration_is_checked(client: TestClient, coded: District) -> None:
    admin = coded.admin
    staff = coded.user("east", "staff", "t1")
    body = {"name": "x", "url": "http://127.0.0.1:9/feed", "kind": "atom", "area": "d1"}
    assert client.post(FEEDS, headers=staff, json=body).status_code == 403
    for bad in ({"url": "ftp://x"}, {"kind": "json"}, {"rules": {"Severe": "broadcast"}},
                {"poll_seconds": 5}, {"area": "nowhere"}):
        response = client.post(FEEDS, headers=admin, json={**body, **bad})
        assert response.status_code == 422, (bad, response.text)
    created = client.post(FEEDS, headers=admin, json={**body, "rules": {"Minor": "ignore"}})
    assert created.status_code == 201
    assert created.json()["rules"] == {"Extreme": "relay", "Severe": "relay",
                                       "Moderate": "hold", "Minor": "ignore", "Unknown": "hold"}
    assert client.post(FEEDS, headers=admin, json=body).status_code == 409
    assert client.get(FEEDS, headers=staff).status_code == 200
    changed = client.patch(f"{FEEDS}/{created.json()['id']}", headers=admin,
                           json={"rules": {"Moderate": "relay"}, "enabled": False})
    assert changed.json()["rules"]["Moderate"] == "relay" and changed.json()["enabled"] is False
    assert client.delete(f"{FEEDS}/{created.json()['id']}", headers=admin).status_code == 204
    assert client.get(f"{FEEDS}/{created.json()['id']}", headers=admin).status_code == 404




def test_the_console_lists_feed_health_and_relays_a_held_alert_in_one_click(
    client: TestClient, coded: District, server: FeedServer,
) -> None:
    now = datetime.now(SHANGHAI).replace(microsecond=0)
    yellow = cma_cap(1, now, "Moderate", ["130132100"])
    server.resources["/feed"] = Resource(atom([("y", "1", yellow)]))
    feed = add_feed(client, coded.admin, name="县气象台", url=server.url + "/feed")
    add_feed(client, coded.admin, name="坏源", url=server.url + "/missing")
    poll(client, coded.admin, feed)
    from app.feeds.poller import poll_due_feeds

    poll_due_feeds()
    reviewer = coded.user("checker", "reviewer", "t1")
    client.cookies.set("cx_session", reviewer["Authorization"].removeprefix("Bearer "))

    page = client.get("/console/feeds")
    assert page.status_code == 200, page.text
    [item] = items(client, coded.admin, state="held").values()
    assert f'data-action="POST /api/v1/feed-items/{item["id"]}/relay"' in page.text
    assert 'href="/console/feeds"' in page.text and "元氏县气象台发布暴雨黄色预警信号" in page.text
    assert page.text.count('data-ok="yes"') == 1 and page.text.count('data-ok="no"') == 1
    # What the button sends: the session cookie and the console's header.
    clicked = client.post(f"{ITEMS}/{item['id']}/relay", headers={"X-Cunxiang-Console": "1"})
    client.cookies.clear()
    assert clicked.status_code == 200 and clicked.json()["state"] == "relayed"
