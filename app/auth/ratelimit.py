"""Failed-login throttling: more than 10 failures in 5 minutes per username or address → 429."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from datetime import datetime, timedelta

from app.db import utcnow

__all__ = ["LoginThrottle"]


class LoginThrottle:
    """In-process sliding window of failed logins, keyed by username and by client address."""

    def __init__(self, limit: int = 10, window: timedelta = timedelta(minutes=5)) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        stamps = self._failures[key]
        while stamps and now - stamps[0] >= self.window:
            stamps.popleft()
        return stamps

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until a blocked key may try again, or None when none of ``keys`` is blocked."""
        now = utcnow()
        with self._lock:
            waits = [
                (stamps[0] + self.window - now).total_seconds()
                for key in keys
                if len(stamps := self._recent(key, now)) >= self.limit
            ]
        return max(1, int(max(waits)) + 1) if waits else None

    def fail(self, *keys: str) -> None:
        """Count one failed login against every key."""
        now = utcnow()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def clear(self) -> None:
        """Forget every failure."""
        with self._lock:
            self._failures.clear()
