"""One urgent broadcast to a town of 3,000 villages: exactly one order per village, with the
broadcast's fields, every village's program version bumped once, waiting terminals woken,
the answer listing every village; the same key again changes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import session_scope
from tests.conftest import District

from .conftest import Stored, Terminal

VILLAGES = 3000
BROADCASTS = "/api/v1/broadcasts"


def _town_of_villages(district: District) -> list[str]:
    """Town ``pt`` in d1 with ``VILLAGES`` villages, imported as a clerk would (CSV)."""
    codes = [f"pv{n:04d}" for n in range(VILLAGES)]
    csv = "code,name,level,parent\npt,平安镇,town,d1\n" + "".join(
        f"{code},平安{n}村,village,pt\n" for n, code in enumerate(codes))
    answer = district.client.post("/api/v1/areas/import", content=csv.encode(),
                                  headers={**district.admin, "Content-Type": "text/csv"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == VILLAGES + 1
    return codes


def _versions() -> dict[str, int]:
    from app.playout.models import VillageProgram

    with session_scope() as session:
        rows = session.execute(select(VillageProgram.village_code, VillageProgram.version))
        return {code: version for code, version in rows}


def _orders_of(broadcast: str) -> list[Any]:
    from app.playout.models import PlayOrder

    with session_scope() as session:
        return list(session.scalars(select(PlayOrder).where(PlayOrder.broadcast_id == broadcast)))


def _long_poll(terminal: Terminal) -> dict[str, Any]:
    """Start a long-poll at the terminal's current version, in a thread."""
    version = terminal.program()["version"]
    result: dict[str, Any] = {}

    def wait() -> None:
        answer = terminal.client.get(f"/terminal/v1/program?version={version}&wait=30",
                                     headers=terminal.headers)
        result.update(status=answer.status_code, at=time.monotonic(),
                      body=answer.json() if answer.status_code == 200 else None)

    result["thread"] = threading.Thread(target=wait)
    result["thread"].start()
    return result


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_a_broadcast_to_thousands_of_villages_orders_each_once_and_wakes_them(
    client: TestClient, district: District, stored: Stored,
    terminal: Callable[..., Terminal],
) -> None:
    codes = _town_of_villages(district)
    first, middle, last = terminal(codes[0]), terminal(codes[VILLAGES // 2]), terminal(codes[-1])
    first.heartbeat()
    last.heartbeat()  # middle stays silent: its village is unreachable
    media = stored.recording()
    earlier = client.post(BROADCASTS, headers=district.admin, json={
        "title": "预警", "level": 3, "targets": codes[:VILLAGES // 2], "media": media["sha256"]})
    assert earlier.status_code == 201, earlier.text[:500]
    before = _versions()  # half the town at version 1, half without one yet
    polls = [_long_poll(t) for t in (first, middle, last)]
    time.sleep(0.3)
    assert all(p["thread"].is_alive() for p in polls)  # nothing for them yet

    body = {"title": "山洪紧急转移", "level": 1, "targets": ["pt"], "media": media["sha256"],
            "loop": 2}
    headers = {**district.admin, "Idempotency-Key": "province-1"}
    sent = time.monotonic()
    answer = client.post(BROADCASTS, json=body, headers=headers)

    assert answer.status_code == 201, answer.text[:500]
    created = answer.json()
    answered = {v["code"]: v for v in created["villages"]}
    assert sorted(answered) == codes  # every village of the town, nothing else
    assert answered[codes[0]]["state"] == "pending"
    assert answered[codes[0]]["speakers"] == {"total": 1, "online": 1, "confirmed": 0}
    assert answered[codes[VILLAGES // 2]]["state"] == "unreachable"
    assert answered[codes[1]]["state"] == "unreachable"  # no speaker at all
    assert answered[codes[1]]["speakers"] == {"total": 0, "online": 0, "confirmed": 0}

    orders = _orders_of(created["id"])
    assert len(orders) == VILLAGES and sorted(o.village_code for o in orders) == codes
    assert {o.village_code: o.id for o in orders} == {c: v["order"] for c, v in answered.items()}
    assert len({o.id for o in orders}) == VILLAGES
    for order in orders:
        assert (order.kind, order.state, order.mode, order.level, order.priority, order.loop,
                order.title) == ("urgent", "issued", "actual", 1, 4, 2, "山洪紧急转移")
        assert order.media == created["media"] and order.duration_ms == created["duration_ms"]
        assert order.start_at == _at(created["start_at"])
        assert order.not_after == _at(created["expires_at"])
        assert order.issued_at == _at(created["created_at"])
        assert order.schedule_id is None and order.volume is None
    after = _versions()
    assert {c: after[c] for c in codes} == {c: before.get(c, 0) + 1 for c in codes}
    town = set(codes)
    assert {c: v for c, v in after.items() if c not in town} == {
        c: v for c, v in before.items() if c not in town}  # no other village

    for poll in polls:
        poll["thread"].join(15)
        assert poll["status"] == 200 and poll["at"] - sent < 10
        urgent = [o for o in poll["body"]["orders"] if o["broadcast"] == created["id"]]
        assert len(urgent) == 1 and urgent[0]["priority"] == 4 and urgent[0]["loop"] == 2

    shown = client.get(f"{BROADCASTS}/{created['id']}", headers=district.admin).json()
    assert {v["code"]: v["order"] for v in shown["villages"]} == {
        c: v["order"] for c, v in answered.items()}
    quiet = [c for c in codes if c not in (first.village, middle.village, last.village)]
    assert [answered[c] for c in quiet] == [v for v in shown["villages"] if v["code"] in quiet]

    again = client.post(BROADCASTS, json=body, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    assert len(_orders_of(created["id"])) == VILLAGES  # no order twice
    assert _versions() == after  # and nobody woken for nothing
    audit = client.get("/api/v1/audit", headers=district.admin,
                       params={"entity": "broadcast"}).json()["items"]
    assert [(e["action"], e["entity_id"], e["after"]["villages"]) for e in audit] == [
        ("create", created["id"], VILLAGES), ("create", earlier.json()["id"], VILLAGES // 2)]
