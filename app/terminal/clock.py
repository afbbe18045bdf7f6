"""The terminal's clock: its own, corrected by the offset the server's ``server_time`` shows.

Each answer that carries ``server_time`` gives a sample: offset = server time −
the local midpoint of the request. Only quick round trips count (a long-poll that
waited says nothing about the offset), and of the recent samples the one with the
shortest round trip wins, as NTP does.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["ServerClock", "MAX_SAMPLE_RTT"]

MAX_SAMPLE_RTT = timedelta(seconds=1)


@dataclass
class ServerClock:
    """Local time plus the server's offset; ``now()`` is what the terminal plays by."""

    offset: timedelta = timedelta(0)
    _samples: deque[tuple[timedelta, timedelta]] = field(default_factory=lambda: deque(maxlen=8))

    def now(self) -> datetime:
        """The corrected current time (aware, UTC)."""
        return datetime.now(UTC) + self.offset

    def observe(self, server_time: datetime, sent: datetime, received: datetime) -> bool:
        """Take a sample from one round trip (local ``sent``/``received``); True if it counts."""
        rtt = received - sent
        if rtt < timedelta(0) or rtt > MAX_SAMPLE_RTT:
            return False
        self._samples.append((rtt, server_time - (sent + rtt / 2)))
        self.offset = min(self._samples, key=lambda s: s[0])[1]
        return True
