"""Which receipts a playout event becomes (pure): the terminal's side of SPEC §7's vocabulary.

Receipts name four events — ``started``, ``finished``, ``failed``, ``preempted`` — while
the playout rule knows more. Cuts and resumptions are logged, not reported (the order
is still running). An order that never sounded is not reported either: the server
marks it ``missed`` by its ``not_after``. A test-mode order is acknowledged (started and
finished at its start) without a sound.
"""

from __future__ import annotations

from typing import Any

from app.playout.priority import (
    CANCELLED,
    EXPIRED,
    FINISHED,
    PREEMPTED,
    SILENT,
    WITHDRAWN,
    PlayEvent,
)
from app.terminal.log import iso

__all__ = ["receipts_for"]


def _receipt(event: PlayEvent, name: str, detail: str | None = None) -> dict[str, Any]:
    receipt: dict[str, Any] = {"order": event.order_id, "event": name, "at": iso(event.at)}
    if detail:
        receipt["detail"] = detail
    return receipt


def receipts_for(event: PlayEvent, *, started: bool, problem: str | None = None
                 ) -> list[dict[str, Any]]:
    """The receipts of one playout event; ``started``: the order had sounded before it.

    ``problem`` (say, a media file that could not be played) turns a finish into ``failed``.
    """
    kind = event.event
    if kind == "started":
        return [_receipt(event, "started")]
    if kind == FINISHED:
        return [_receipt(event, "failed", problem) if problem else _receipt(event, "finished")]
    if kind == PREEMPTED:
        return [_receipt(event, "preempted", "cut by a higher priority; no time left to resume")]
    if kind == EXPIRED:
        return [_receipt(event, "preempted", "not_after reached before the end")]
    if kind in (WITHDRAWN, CANCELLED) and started:
        return [_receipt(event, "preempted", f"{kind}: left the program while playing")]
    if kind == SILENT:
        return [_receipt(event, "started"),
                _receipt(event, "finished", "test mode: acknowledged, not played aloud")]
    return []
