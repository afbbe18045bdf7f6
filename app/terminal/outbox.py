"""Receipts and heartbeats waiting for the server; saved in the cache while the network is down."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Outbox", "MAX_QUEUED_HEARTBEATS", "MAX_BATCH"]

# A long outage must not fill the disk: the oldest queued heartbeats make way (receipts
# are few — a handful per order — and are all kept).
MAX_QUEUED_HEARTBEATS = 200
MAX_BATCH = 100


@dataclass
class Outbox:
    """Pending receipts and heartbeats (in memory; the terminal persists :meth:`snapshot`)."""

    receipts: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def restore(cls, saved: Any) -> Outbox:
        """An outbox from a saved snapshot (empty for None or garbage)."""
        if not isinstance(saved, dict):
            return cls()
        return cls([r for r in saved.get("receipts", []) if isinstance(r, dict)],
                   [h for h in saved.get("heartbeats", []) if isinstance(h, dict)])

    def snapshot(self) -> dict[str, Any]:
        """What to save: copies, safe to write from another thread."""
        return {"receipts": list(self.receipts), "heartbeats": list(self.heartbeats)}

    def add_receipts(self, receipts: list[dict[str, Any]]) -> None:
        """Queue receipts."""
        self.receipts.extend(receipts)

    def add_heartbeat(self, heartbeat: dict[str, Any]) -> None:
        """Queue a heartbeat that could not be sent (it carries its ``at``)."""
        self.heartbeats.append(heartbeat)
        del self.heartbeats[:-MAX_QUEUED_HEARTBEATS]

    def next_receipts(self) -> list[dict[str, Any]]:
        """The oldest receipts, one request's worth."""
        return self.receipts[:MAX_BATCH]

    def drop_receipts(self, done: list[dict[str, Any]]) -> None:
        """Forget receipts the server has (or refused for good)."""
        ids = {id(r) for r in done}
        self.receipts = [r for r in self.receipts if id(r) not in ids]

    def drop_heartbeat(self, heartbeat: dict[str, Any]) -> None:
        """Forget a heartbeat the server has."""
        self.heartbeats = [h for h in self.heartbeats if h is not heartbeat]

    def __len__(self) -> int:
        return len(self.receipts) + len(self.heartbeats)
