"""Signal handlers chained in front of the server's own (uvicorn's), which then runs as usual.

Handlers can only be installed in the main thread, where signals are delivered; elsewhere (an
in-process test client) :func:`chain` installs nothing and returns None.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["chain", "restore"]


def _chained(action: Callable[[], None], previous: Any) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        action()
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    return handler


def chain(signum: int, action: Callable[[], None]) -> Any:
    """On ``signum``, run ``action`` and then the handler installed before (the default action
    if that was the default); returns that previous handler, or None outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signum)
    signal.signal(signum, _chained(action, previous))
    return previous


def restore(signum: int, previous: Any) -> None:
    """Give ``signum`` back to the handler :func:`chain` returned (main thread only)."""
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signum, previous)
