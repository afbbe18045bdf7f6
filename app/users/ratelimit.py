"""Failed-login throttling: more than 10 failures in 5 minutes per username or address → 429.

Failures are rows in the database, so every API process behind a load balancer counts the
same attempts (a per-process count would let N processes allow N times as many guesses).
An attempt is written *before* the password is checked and counted with the others, so a
burst of simultaneous guesses cannot all slip past the count; it is taken back when the
login succeeds or is refused for another reason. Rows older than the window are deleted
as new ones come.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select

from app.db import session_scope, utcnow
from app.errors import TooManyRequests, Unauthorized
from app.users.models import LoginFailure

__all__ = ["LoginThrottle"]

log = logging.getLogger(__name__)

KEY_LENGTH = 200


class LoginThrottle:
    """Sliding window of failed logins, keyed by username and by client address."""

    def __init__(self, limit: int = 10, window: timedelta = timedelta(minutes=5)) -> None:
        self.limit = limit
        self.window = window

    @contextmanager
    def attempt(self, *keys: str) -> Iterator[None]:
        """Guard one login: 429 (:class:`TooManyRequests`) when a key is over the limit; the
        attempt counts as a failure if the block raises :class:`Unauthorized`."""
        ids, wait = self._record(keys)
        if wait is not None:
            self._take_back(ids)  # a refused attempt is no guess
            raise TooManyRequests(f"too many failed logins; try again in {wait} s",
                                  retry_after=wait)
        try:
            yield
        except Unauthorized:
            raise
        except BaseException:
            self._take_back(ids)
            raise
        try:
            self._take_back(ids)
        except Exception:  # the login itself succeeded: its answer must not be lost
            log.exception("could not take back login attempt rows %s", ids)

    def _record(self, keys: Sequence[str]) -> tuple[list[int], int | None]:
        now = utcnow()
        keys = [key[:KEY_LENGTH] for key in keys]
        with session_scope() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - self.window))
            ids = list(session.scalars(insert(LoginFailure).returning(LoginFailure.id),
                                       [{"key": key, "at": now} for key in keys]))
            session.commit()  # visible to every other attempt before the password is checked
        try:
            wait = self._wait(keys, now)
        except BaseException:
            self._take_back(ids)  # not counted: no password was checked
            raise
        return ids, wait

    def _wait(self, keys: Sequence[str], now: datetime) -> int | None:
        """Seconds until every key is under the limit again, or None when none is over it."""
        with session_scope() as session:
            rows = session.execute(
                select(LoginFailure.key, func.count(), func.min(LoginFailure.at))
                .where(LoginFailure.key.in_(keys), LoginFailure.at > now - self.window)
                .group_by(LoginFailure.key)
            ).all()
        waits = [(first + self.window - now).total_seconds() for _, count, first in rows
                 if count > self.limit]
        return max(1, int(max(waits)) + 1) if waits else None

    def _take_back(self, ids: list[int]) -> None:
        with session_scope() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.id.in_(ids)))

    def clear(self) -> None:
        """Forget every failure."""
        with session_scope() as session:
            session.execute(delete(LoginFailure))
