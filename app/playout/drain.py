"""A stopping node lets its terminals go at once: on SIGTERM every long-poll answers 304.

Without this, uvicorn's graceful shutdown would wait for every long-poll to run out (up to
60 s) or cut them with a 500 after ``CUNXIANG_SHUTDOWN_GRACE``. Answered at once, the
terminals poll again straight away, and behind a load balancer that request goes to a
node that is staying (this one stops listening a moment later). A restart of one node
therefore costs its terminals one extra request and no wait.

The handler is chained in front of the server's own (uvicorn's, which then stops the
server as usual); it is installed only in the main thread, where signals are delivered.
"""

from __future__ import annotations

import signal
from typing import Any

from app.playout.notify import ProgramNotifications
from app.runtime.signals import chain, restore

__all__ = ["DrainOnSigterm"]


class DrainOnSigterm:
    """The service closing the long-polls of ``notifications`` on SIGTERM (start it after them)."""

    def __init__(self, notifications: ProgramNotifications) -> None:
        self.notifications = notifications
        self._previous: Any = None

    def start(self) -> None:
        """On SIGTERM, close this app's long-polls, then run the server's handler."""
        notifier = self.notifications.notifier
        if notifier is not None:
            self._previous = chain(signal.SIGTERM, notifier.close)

    def stop(self) -> None:
        """Give SIGTERM back to the handler that was there before."""
        restore(signal.SIGTERM, self._previous)
        self._previous = None
