"""Failed-login throttling: more than 10 failures in 5 minutes per username or address → 429.

Failures are rows in the database, so every API process behind a load balancer counts the
same attempts (a per-process count would let N processes allow N times as many guesses).
A failure older than the window is deleted when the next one is recorded.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, insert, select

from app.auth.models import LoginFailure
from app.db import session_scope, utcnow

__all__ = ["LoginThrottle"]

KEY_LENGTH = 200


class LoginThrottle:
    """Sliding window of failed logins, keyed by username and by client address."""

    def __init__(self, limit: int = 10, window: timedelta = timedelta(minutes=5)) -> None:
        self.limit = limit
        self.window = window

    def retry_after(self, *keys: str) -> int | None:
        """Seconds until a blocked key may try again, or None when none of ``keys`` is blocked."""
        now = utcnow()
        with session_scope() as session:
            rows = session.execute(
                select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
                .where(LoginFailure.key.in_([k[:KEY_LENGTH] for k in keys]),
                       LoginFailure.at > now - self.window)
                .group_by(LoginFailure.key)
            ).all()
        waits = [(first + self.window - now).total_seconds() for _, count, first in rows
                 if count >= self.limit]
        return max(1, int(max(waits)) + 1) if waits else None

    def fail(self, *keys: str) -> None:
        """Count one failed login against every key (and forget those past the window)."""
        now = utcnow()
        with session_scope() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window))
            session.execute(insert(LoginFailure),
                            [{"key": key[:KEY_LENGTH], "at": now} for key in keys])

    def clear(self) -> None:
        """Forget every failure."""
        with session_scope() as session:
            session.execute(delete(LoginFailure))
