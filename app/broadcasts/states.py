"""Where an urgent broadcast stands in one village, from receipts, delivery and health (pure).

SPEC §8: a village is ``pending``, ``delivered`` (a terminal fetched the order), ``playing``,
``played``, ``failed`` or ``unreachable`` (no speaker online and none has confirmed). What a
terminal reported wins over what the server guesses from health: a village whose terminal
reported ``finished`` is ``played`` even if that terminal has since gone silent.

How the order ended decides the rest: started but cut off (cancelled, expired, missed)
counts as ``failed`` (with the reason in ``detail``); an order that ended without ever
starting is ``failed`` when a speaker could have played it and ``unreachable`` when none
was online. A cancelled order that never
started keeps the state it had (the broadcast's ``cancelled`` status says why it stopped).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

__all__ = [
    "VillageView",
    "village_state",
    "VILLAGE_STATES",
    "ENDED_ORDER_STATES",
    "REPORTED_END_STATES",
]

VILLAGE_STATES = ("pending", "delivered", "playing", "played", "failed", "unreachable")
# Order states a terminal's receipt leads to: the village has ended its part.
REPORTED_END_STATES = frozenset({"played", "failed", "preempted"})
# Every order state after which nothing more will sound.
ENDED_ORDER_STATES = REPORTED_END_STATES | {"missed", "expired", "cancelled", "withdrawn"}


@dataclass(frozen=True, slots=True)
class VillageView:
    """One village's state and, when it helps, a short reason."""

    state: str
    detail: str | None = None


def village_state(
    *,
    order_state: str,
    events: Collection[str],
    delivered: bool,
    online: int,
    mode: str = "actual",
) -> VillageView:
    """The state of one village: ``events`` are the receipt events its terminals sent."""
    reported = _from_receipts(order_state, events, mode)
    if reported is not None:
        return reported
    if order_state in ("missed", "expired"):
        if online == 0:
            return VillageView("unreachable", "no speaker was online before it expired")
        return VillageView("failed", "it expired before a terminal could play it")
    if online == 0:
        return VillageView(
            "unreachable",
            "no speaker online" + (" (a terminal had fetched it)" if delivered else ""),
        )
    return VillageView("delivered") if delivered else VillageView("pending")


def _from_receipts(order_state: str, events: Collection[str], mode: str) -> VillageView | None:
    """The state a terminal's receipts (or the order state they set) say; None if none."""
    if "finished" in events or order_state == "played":
        detail = "acknowledged; a test is never played aloud" if mode == "test" else None
        return VillageView("played", detail)
    if order_state == "cancelled" and "started" in events:
        return VillageView("failed", "cancelled while it was playing")
    if "failed" in events or order_state == "failed":
        return VillageView("failed", "a terminal reported it failed")
    if "preempted" in events or order_state == "preempted":
        return VillageView("failed", "cut by a higher-priority broadcast and out of time")
    if "started" in events:
        if order_state == "issued":
            return VillageView("playing")
        return VillageView("failed", f"started, then {order_state} before it finished")
    return None
