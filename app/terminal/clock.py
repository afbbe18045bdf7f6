"""The terminal's clock: its own, corrected by the offset the server's clock shows.

Each answer carrying ``server_time`` gives a sample. A heartbeat's answer also says when
the request arrived (``received_at``), so the sample is NTP's: offset = ((t2 − t1) +
(t3 − t4)) / 2 with delay = (t4 − t1) − (t3 − t2), the server's own processing left out.
Other answers give Cristian's estimate (server time − the local midpoint), trusted only
for quick round trips (a long-poll that waited says nothing). Of the recent samples the
one with the smallest delay wins.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["ServerClock", "MAX_DELAY", "MAX_MIDPOINT_RTT"]

# A sample's error is at most half its delay: slower ones would spoil a 100 ms precision.
MAX_DELAY = timedelta(milliseconds=250)
MAX_MIDPOINT_RTT = timedelta(milliseconds=250)


@dataclass
class ServerClock:
    """Local time plus the server's offset; ``now()`` is what the terminal plays by."""

    offset: timedelta = timedelta(0)
    _samples: deque[tuple[timedelta, timedelta]] = field(default_factory=lambda: deque(maxlen=8))

    def now(self) -> datetime:
        """The corrected current time (aware, UTC)."""
        return datetime.now(UTC) + self.offset

    def observe(self, server_time: datetime, sent: datetime, received: datetime,
                server_received: datetime | None = None) -> bool:
        """Take a sample from one round trip (local ``sent``/``received``); True if it counts."""
        if server_received is not None:
            delay = (received - sent) - (server_time - server_received)
            offset = ((server_received - sent) + (server_time - received)) / 2
            limit = MAX_DELAY
        else:
            delay = received - sent
            offset = server_time - (sent + delay / 2)
            limit = MAX_MIDPOINT_RTT
        if delay < timedelta(0) or delay > limit:
            return False
        self._samples.append((delay, offset))
        self.offset = min(self._samples, key=lambda s: s[0])[1]
        return True
