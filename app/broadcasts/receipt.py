"""A broadcast's receipt in the shape of the national emergency-broadcast state report.

The national emergency-broadcast platform interface (应急广播消息播发状态反馈, the
``EBMStateResponse``) reports a message's broadcast state as ``BrdStateCode``:

====  ==========================  ============================================================
code  meaning                     from our states
====  ==========================  ============================================================
0     未处理 unprocessed           active, but no terminal has fetched it yet
1     等待播发 waiting             fetched (village ``delivered``) or not yet at its start time
2     正在播发 playing             a terminal reported ``started`` and the order is still live
3     播发成功 success             played (``finished``; for a test, acknowledged)
4     播发失败 failed              failed, cut, expired or missed; a broadcast counts as failed
                                  when any village failed (the standard's "部分失败")
5     播发取消 cancelled           cancelled (by hand, a CAP Cancel or an Update) before it
                                  was played
====  ==========================  ============================================================

``Coverage`` holds ``CoverageRate`` (villages played ÷ villages targeted), ``AreaCode``
(the villages actually reached, by their official division code when they have one) and
``ResBrdStat`` (platforms, adapters, broadcast devices, terminals actually used — the
standard's four counts; this service is one platform and drives terminals directly).
``ResBrdInfo.ResBrdItem`` lists each terminal: its ``EBRID`` (the speaker's serial),
``StartTime`` and ``EndTime`` from its own receipts, and its own ``BrdStateCode``.

Times are ISO 8601 with the service's offset, as everywhere in this API.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.areas.models import Area
from app.broadcasts import service
from app.broadcasts.models import Broadcast
from app.broadcasts.schemas import BroadcastRead, VillageRead
from app.config import get_settings
from app.csvout import safe_writer
from app.db import utcnow
from app.playout.models import PlayOrder
from app.playout.receipts_models import PlayReceipt
from app.speakers.models import Speaker

__all__ = [
    "BRD_STATE_DESC",
    "broadcast_state_code",
    "village_state_code",
    "terminal_state_code",
    "national_receipt",
    "receipt_csv",
    "CSV_HEADER",
]

UNPROCESSED, WAITING, PLAYING, SUCCESS, FAILED, CANCELLED = range(6)
BRD_STATE_DESC = {
    UNPROCESSED: "未处理",
    WAITING: "等待播发",
    PLAYING: "正在播发",
    SUCCESS: "播发成功",
    FAILED: "播发失败",
    CANCELLED: "播发取消",
}
_END_EVENTS = ("finished", "failed", "preempted")


def village_state_code(state: str, *, status: str, started: bool) -> int:
    """A village's BrdStateCode from its state, the broadcast's status and whether it began."""
    if state == "played":
        return SUCCESS
    if state == "playing":
        return PLAYING if status == "active" else FAILED
    if status == "cancelled":
        return CANCELLED
    if state == "failed" or status != "active":
        return FAILED  # a terminal said so, or the broadcast ended without it playing here
    if not started or state == "delivered":
        return WAITING
    return UNPROCESSED


def broadcast_state_code(status: str, codes: Sequence[int], *, started: bool) -> int:
    """The broadcast's BrdStateCode from its status and its villages' codes."""
    if status == "cancelled":
        return CANCELLED
    if status in ("finished", "expired"):
        return SUCCESS if codes and all(c == SUCCESS for c in codes) else FAILED
    if not started:
        return WAITING
    if any(c in (PLAYING, SUCCESS, FAILED) for c in codes):
        return PLAYING
    return WAITING if any(c == WAITING for c in codes) else UNPROCESSED


def terminal_state_code(events: dict[str, datetime], *, status: str, order_state: str) -> int:
    """A terminal's BrdStateCode from the receipt events it sent for the village's order."""
    if "finished" in events:
        return SUCCESS
    if "failed" in events or "preempted" in events:
        return FAILED
    if status == "cancelled" or order_state == "cancelled":
        return CANCELLED
    if "started" in events:
        return PLAYING if status == "active" and order_state == "issued" else FAILED
    return FAILED if status != "active" else WAITING


@dataclass(frozen=True)
class _Terminal:
    id: str
    serial: str
    name: str | None
    village: str
    events: dict[str, datetime]


def _terminals(session: Session, read: BroadcastRead) -> list[_Terminal]:
    """Every speaker of the target villages, and any other that sent a receipt for an order."""
    orders = {v.order: v.code for v in read.villages}
    events: dict[str, dict[str, datetime]] = defaultdict(dict)
    reported_in: dict[str, str] = {}
    for order_id, speaker_id, event, at in session.execute(
        select(PlayReceipt.order_id, PlayReceipt.speaker_id, PlayReceipt.event, PlayReceipt.at)
        .where(PlayReceipt.order_id.in_(list(orders)))
    ):
        events[speaker_id][event] = at
        reported_in[speaker_id] = orders[order_id]
    speakers = session.execute(
        select(Speaker.id, Speaker.serial, Speaker.name, Speaker.village_code, Speaker.retired_at)
        .where((Speaker.village_code.in_(list(orders.values()))) | Speaker.id.in_(list(events)))
        .order_by(Speaker.village_code, Speaker.serial)
    )
    found = []
    for speaker_id, serial, name, village, retired in speakers:
        if retired is not None and speaker_id not in events:
            continue
        found.append(_Terminal(speaker_id, serial, name,
                               reported_in.get(speaker_id, village), events.get(speaker_id, {})))
    return found


def _local(moment: datetime | None) -> str | None:
    return moment.astimezone(get_settings().tz).isoformat() if moment else None


def _area_codes(session: Session, codes: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    """Village code → (name, official division code or None)."""
    rows = session.execute(select(Area.code, Area.name, Area.division_code)
                           .where(Area.code.in_(list(codes))))
    return {code: (name, division) for code, name, division in rows}


def _village_item(village: VillageRead, read: BroadcastRead, started: bool,
                  names: dict[str, tuple[str, str | None]]) -> dict[str, Any]:
    code = village_state_code(village.state, status=read.status, started=started)
    name, division = names.get(village.code, (village.code, None))
    return {
        "AreaCode": division or village.code,
        "AreaName": name,
        "Village": village.code,
        "BrdStateCode": code,
        "BrdStateDesc": BRD_STATE_DESC[code],
        "State": village.state,
        "TerminalTotal": village.speakers.total,
        "TerminalOnline": village.speakers.online,
        "TerminalConfirmed": village.speakers.confirmed,
    }


def _terminal_item(terminal: _Terminal, read: BroadcastRead,
                   order_states: dict[str, str], media_url: str | None) -> dict[str, Any]:
    code = terminal_state_code(terminal.events, status=read.status,
                               order_state=order_states.get(terminal.village, "issued"))
    ended = [terminal.events[e] for e in _END_EVENTS if e in terminal.events]
    return {
        "EBRDT": {"EBRID": terminal.serial, "EBRName": terminal.name or terminal.serial},
        "Speaker": terminal.id,
        "Village": terminal.village,
        "StartTime": _local(terminal.events.get("started")),
        "EndTime": _local(min(ended) if ended else None),
        "FileURL": media_url,
        "BrdStateCode": code,
        "BrdStateDesc": BRD_STATE_DESC[code],
    }


def _order_states(session: Session, broadcast: Broadcast) -> dict[str, str]:
    return dict(session.execute(select(PlayOrder.village_code, PlayOrder.state)
                                .where(PlayOrder.broadcast_id == broadcast.id)).all())


def national_receipt(session: Session, broadcast: Broadcast,
                     now: datetime | None = None) -> dict[str, Any]:
    """The receipt of one broadcast: its state, coverage, villages and terminals."""
    now = now or utcnow()
    read = service.describe(session, [broadcast])[0]
    started = broadcast.start_at <= now
    names = _area_codes(session, [v.code for v in read.villages])
    villages = [_village_item(v, read, started, names) for v in read.villages]
    codes = [v["BrdStateCode"] for v in villages]
    state = broadcast_state_code(read.status, codes, started=started)
    reached = [v for v in villages if v["BrdStateCode"] in (PLAYING, SUCCESS)]
    media_url = str(read.media[0]["url"]) if read.media else None
    order_states = _order_states(session, broadcast)
    terminals = [_terminal_item(t, read, order_states, media_url)
                 for t in _terminals(session, read)]
    used = sum(1 for t in terminals if t["StartTime"] or t["EndTime"])
    played = sum(1 for c in codes if c == SUCCESS)
    return {
        "EBMID": broadcast.id,
        "RptTime": _local(now),
        "EBM": {"EBMID": broadcast.id, "Title": broadcast.title, "Level": broadcast.level,
                "Mode": broadcast.mode, "StartTime": _local(broadcast.start_at),
                "EndTime": _local(broadcast.ended_at or broadcast.expires_at),
                "CapIdentifier": broadcast.cap_identifier},
        "BrdStateCode": state,
        "BrdStateDesc": BRD_STATE_DESC[state],
        "Coverage": {
            "CoverageRate": round(played / len(villages), 4) if villages else 0.0,
            "AreaCode": ",".join(v["AreaCode"] for v in reached),
            "ResBrdStat": f"1,0,0,{used}",
        },
        "Areas": villages,
        "ResBrdInfo": {"ResBrdItem": terminals},
    }


CSV_HEADER = ["RowType", "EBMID", "AreaCode", "AreaName", "Village", "EBRID", "EBRName",
              "StartTime", "EndTime", "BrdStateCode", "BrdStateDesc", "CoverageRate",
              "TerminalTotal", "TerminalConfirmed"]


def receipt_csv(receipt: dict[str, Any]) -> str:
    """The receipt as CSV: one ``EBM`` row, one ``Area`` row per village, one ``Terminal`` row
    per terminal (UTF-8 with a byte-order mark, so spreadsheet programs read the Chinese)."""
    buffer = io.StringIO()
    writer = safe_writer(buffer)
    writer.writerow(CSV_HEADER)
    ebm, coverage = receipt["EBM"], receipt["Coverage"]
    writer.writerow(["EBM", receipt["EBMID"], coverage["AreaCode"], ebm["Title"], "", "", "",
                     ebm["StartTime"], ebm["EndTime"], receipt["BrdStateCode"],
                     receipt["BrdStateDesc"], coverage["CoverageRate"], "", ""])
    names = {a["Village"]: a for a in receipt["Areas"]}
    for area in receipt["Areas"]:
        writer.writerow(["Area", receipt["EBMID"], area["AreaCode"], area["AreaName"],
                         area["Village"], "", "", "", "", area["BrdStateCode"],
                         area["BrdStateDesc"], "", area["TerminalTotal"],
                         area["TerminalConfirmed"]])
    for item in receipt["ResBrdInfo"]["ResBrdItem"]:
        area = names.get(item["Village"], {})
        writer.writerow(["Terminal", receipt["EBMID"], area.get("AreaCode", item["Village"]),
                         area.get("AreaName", ""), item["Village"], item["EBRDT"]["EBRID"],
                         item["EBRDT"]["EBRName"], item["StartTime"] or "",
                         item["EndTime"] or "", item["BrdStateCode"], item["BrdStateDesc"],
                         "", "", ""])
    return "\ufeff" + buffer.getvalue()
