"""The as-run log: receipts per order and speaker, missed orders, CSV, windows and scope."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from tests.playout.orders import bearer, insert_order, order_row, register, store_media

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


@pytest.fixture
def tone() -> dict[str, Any]:
    """A one-second tone in the media store."""
    return store_media(1.0)


def _receipts(client: TestClient, token: str, order: str, *events: tuple[str, datetime]) -> None:
    body = [{"order": order, "event": e, "at": at.isoformat()} for e, at in events]
    response = client.post("/terminal/v1/receipts", json=body, headers=bearer(token))
    assert response.status_code == 200, response.text


def _mark_missed() -> None:
    from app.playout.jobs import mark_missed

    mark_missed()


def _log(client: TestClient, headers: dict[str, str], query: str = "") -> dict[str, Any]:
    response = client.get(f"/api/v1/playlog{query}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_playlog_says_what_played_where_and_what_nobody_played(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    east = register(client, admin, "v11", "E-1")
    east2 = register(client, admin, "v11", "E-2")
    west = register(client, admin, "v21", "W-1")
    morning = insert_order("v11", T0, [tone], not_after=T0 + timedelta(minutes=16),
                           title="早间通知")
    cut = insert_order("v21", T0 + timedelta(minutes=1), [tone],
                       not_after=T0 + timedelta(minutes=16))
    nobody = insert_order("v21", T0 + timedelta(minutes=2), [tone],
                          not_after=T0 + timedelta(minutes=17))
    half = insert_order("v11", T0 + timedelta(minutes=3), [tone],
                        not_after=T0 + timedelta(minutes=18))
    _receipts(client, east["token"], morning, ("started", T0),
              ("finished", T0 + timedelta(seconds=1)))
    _receipts(client, east2["token"], morning, ("started", T0 + timedelta(seconds=0.2)))
    _receipts(client, west["token"], cut, ("started", T0 + timedelta(minutes=1)),
              ("preempted", T0 + timedelta(minutes=1, seconds=0.5)))
    _receipts(client, east2["token"], half, ("started", T0 + timedelta(minutes=3)))
    _mark_missed()

    log = _log(client, admin)
    rows = [(i["order"], i["serial"], i["result"]) for i in log["items"]]
    assert rows == [(morning, "E-1", "played"), (morning, "E-2", "started"),
                    (cut, "W-1", "preempted"), (nobody, None, "missed"),
                    (half, "E-2", "started")]
    assert log["total"] == 5
    first = log["items"][0]
    assert first["village"] == "v11" and first["title"] == "早间通知"
    assert datetime.fromisoformat(first["started_at"]) == T0
    assert datetime.fromisoformat(first["ended_at"]) == T0 + timedelta(seconds=1)
    assert datetime.fromisoformat(first["scheduled_at"]) == T0
    assert [order_row(o).state for o in (morning, cut, nobody, half)] == [
        "played", "preempted", "missed", "failed"]


def test_a_late_receipt_turns_a_missed_order_into_a_played_one(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    speaker = register(client, admin, "v11", "L-1")
    order = insert_order("v11", T0, [tone], not_after=T0 + timedelta(minutes=16))
    _mark_missed()
    assert [i["result"] for i in _log(client, admin)["items"]] == ["missed"]
    # The terminal played it offline and delivers its queued receipts when back.
    _receipts(client, speaker["token"], order, ("started", T0),
              ("finished", T0 + timedelta(seconds=1)))
    assert [(i["serial"], i["result"]) for i in _log(client, admin)["items"]] == [("L-1", "played")]
    assert order_row(order).state == "played"


def test_orders_in_force_are_not_missed_before_their_not_after(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=1)
    order = insert_order("v11", start, [tone])  # not_after: start + 1 s + 15 min
    _mark_missed()
    assert order_row(order).state == "issued"
    with time_machine.travel(start + timedelta(minutes=16)):
        _mark_missed()
    assert order_row(order).state == "missed"


def test_window_village_and_scope(
    client: TestClient, admin, district, tone: dict[str, Any]
) -> None:
    east, west = register(client, admin, "v11", "E-1"), register(client, admin, "v21", "W-1")
    early = insert_order("v11", T0, [tone], not_after=T0 + timedelta(minutes=16))
    late = insert_order("v11", T0 + timedelta(hours=1), [tone],
                        not_after=T0 + timedelta(hours=1, minutes=16))
    far = insert_order("v21", T0, [tone], not_after=T0 + timedelta(minutes=16))
    for token, order in ((east["token"], early), (east["token"], late), (west["token"], far)):
        _receipts(client, token, order, ("started", T0), ("finished", T0))

    def orders(headers: dict[str, str], query: str = "") -> list[str]:
        return [i["order"] for i in _log(client, headers, query)["items"]]

    window = f"?from={(T0 + timedelta(minutes=30)).isoformat()}".replace("+", "%2B")
    assert orders(admin, window) == [late]
    until = f"?to={(T0 + timedelta(minutes=30)).isoformat()}".replace("+", "%2B")
    assert orders(admin, until) == [early, far]
    assert orders(admin, "?village=t2") == [far]
    assert orders(admin, f"?speaker={east['id']}") == [early, late]
    staff = district.user("west", "staff", "t2")
    assert orders(staff) == [far]
    assert client.get("/api/v1/playlog?village=v11", headers=staff).status_code == 403
    assert client.get("/api/v1/playlog", headers=bearer(east["token"])).status_code == 403
    assert client.get("/api/v1/playlog?from=yesterday", headers=admin).status_code == 422
    paged = _log(client, admin, "?limit=1&offset=1")
    assert paged["total"] == 3 and [i["order"] for i in paged["items"]] == [far]


def test_the_playlog_as_csv(client: TestClient, admin, district, tone: dict[str, Any]) -> None:
    speaker = register(client, admin, "v11", "C-1")
    played = insert_order("v11", T0, [tone], not_after=T0 + timedelta(minutes=16),
                          title="通知,一")
    missed = insert_order("v12", T0 + timedelta(minutes=5), [tone],
                          not_after=T0 + timedelta(minutes=21))
    _receipts(client, speaker["token"], played, ("started", T0),
              ("finished", T0 + timedelta(seconds=1)))
    _mark_missed()
    response = client.get("/api/v1/playlog", headers={**admin, "Accept": "text/csv"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [(r["order"], r["village"], r["serial"], r["result"]) for r in rows] == [
        (played, "v11", "C-1", "played"), (missed, "v12", "", "missed")]
    assert rows[0]["title"] == "通知,一"
    assert datetime.fromisoformat(rows[0]["started_at"]) == T0


def test_many_orders_ending_at_once_are_all_marked_a_batch_per_transaction(
    client: TestClient, admin, district, tone: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.playout import jobs

    monkeypatch.setattr(jobs, "BATCH", 2)
    ids = [insert_order(village, T0 + timedelta(seconds=n), [tone],
                        not_after=T0 + timedelta(minutes=16))
           for n, village in enumerate(["v11", "v12", "v21", "v11", "v12"])]
    _mark_missed()
    assert [order_row(o).state for o in ids] == ["missed"] * 5
