"""Playout's writers of play orders, as schedules and broadcasts call them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.db import session_scope, utcnow
from app.playout.models import PlayOrder
from app.playout.orders import (
    end_broadcast_orders,
    insert_orders,
    insert_village_orders,
    set_orders,
)
from tests.conftest import District


def _orders() -> dict[str, tuple[Any, ...]]:
    with session_scope() as session:
        rows = session.execute(select(PlayOrder.id, PlayOrder.village_code, PlayOrder.kind,
                                      PlayOrder.broadcast_id, PlayOrder.state,
                                      PlayOrder.title, PlayOrder.priority))
        return {row.id: tuple(row)[1:] for row in rows}


def _urgent(broadcast_id: str, villages: list[str]) -> None:
    now = utcnow()
    with session_scope() as session:
        insert_village_orders(session, villages, {
            "kind": "urgent", "broadcast_id": broadcast_id, "start_at": now,
            "not_after": now + timedelta(hours=1), "level": 1, "priority": 4,
            "title": "洪水预警", "media": [], "state": "issued",
        })


def test_one_urgent_order_per_village_sharing_the_rest(district: District) -> None:
    _urgent("brd_a", ["v11", "v12", "v21"])
    orders = _orders()
    assert sorted(orders.values()) == [
        (village, "urgent", "brd_a", "issued", "洪水预警", 4) for village in ("v11", "v12", "v21")]
    assert all(order_id.startswith("ord_") for order_id in orders)


def test_a_routine_order_inserted_twice_is_stored_once(district: District) -> None:
    start = utcnow() + timedelta(hours=2)
    row = {"kind": "routine", "village_code": "v11", "schedule_id": "sch_x", "start_at": start,
           "not_after": start + timedelta(minutes=5), "title": "广播体操", "media": []}
    for _ in range(2):
        with session_scope() as session:
            insert_orders(session, [{**row, "id": f"ord_{len(_orders())}"}])
    assert list(_orders().values()) == [("v11", "routine", None, "issued", "广播体操", 0)]


def test_ending_moves_only_the_broadcasts_orders_in_the_given_states(district: District) -> None:
    _urgent("brd_a", ["v11", "v12"])
    _urgent("brd_b", ["v21"])
    played = next(i for i, o in _orders().items() if o[0] == "v12")
    with session_scope() as session:
        set_orders(session, [played], {"state": "played"})
        end_broadcast_orders(session, "brd_a", "cancelled", ("issued",))
    states = {(o[0], o[2]): o[3] for o in _orders().values()}
    assert states == {("v11", "brd_a"): "cancelled", ("v12", "brd_a"): "played",
                      ("v21", "brd_b"): "issued"}
