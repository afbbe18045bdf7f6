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
import threading
from types import FrameType
from typing import Any

from fastapi import FastAPI

__all__ = ["start_drain_on_sigterm", "stop_drain_on_sigterm"]


def start_drain_on_sigterm(app: FastAPI) -> None:
    """Lifespan start: on SIGTERM, close this app's long-polls, then the server's handler."""
    notifier = getattr(app.state, "program_notifier", None)
    if notifier is None or threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        notifier.close()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)
    app.state.drain_previous_handler = previous


def stop_drain_on_sigterm(app: FastAPI) -> Any:
    """Lifespan stop: give SIGTERM back to the handler that was there before."""
    previous = getattr(app.state, "drain_previous_handler", None)
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)
    app.state.drain_previous_handler = None
