"""The terminal's event log: one line per event on stdout, easy to read and to parse.

A line is ``<time> <event> key=value …``: the time is the terminal's clock (corrected
with the server's) in ISO 8601 UTC with microseconds; a value with spaces, quotes or
``=`` is JSON-quoted; ``-`` stands for nothing. :func:`parse_line` reads a line back.

Events: ``terminal-start``, ``program``, ``clock``, ``download``, ``download-failed``,
``play``, ``cut``, ``resumed``, ``stop``, ``finished``, ``preempted``, ``expired``,
``missed``, ``silent``, ``receipt``, ``receipt-dropped``, ``heartbeat``, ``offline``,
``online``, ``unauthorized``, ``player-failed``, ``shutdown``. ``play`` carries ``order``,
``item``, ``loop``, ``sha256``, ``start_at``, ``due`` (when this item should have begun)
and ``late_ms`` (how late the player was started).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["EventLog", "LogLine", "format_line", "parse_line", "iso"]

_PLAIN = re.compile(r'^[^\s"=]+$')
_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def iso(moment: datetime) -> str:
    """An aware time as ISO 8601 UTC with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    return text if _PLAIN.match(text) else json.dumps(text, ensure_ascii=False)


def format_line(at: datetime, event: str, fields: dict[str, Any]) -> str:
    """One log line."""
    parts = [iso(at), event] + [f"{k}={_value(v)}" for k, v in fields.items()]
    return " ".join(parts)


@dataclass(frozen=True)
class LogLine:
    """A parsed log line: when, what, and its fields as strings (None for ``-``)."""

    at: datetime
    event: str
    fields: dict[str, str | None]


def parse_line(line: str) -> LogLine | None:
    """Read a line written by :class:`EventLog`; None for anything else."""
    head = line.strip().split(" ", 2)
    if len(head) < 2:
        return None
    try:
        at = datetime.fromisoformat(head[0])
    except ValueError:
        return None
    fields: dict[str, str | None] = {}
    for key, raw in _FIELD.findall(head[2] if len(head) > 2 else ""):
        value = json.loads(raw) if raw.startswith('"') else raw
        fields[key] = None if value == "-" else value
    return LogLine(at, head[1], fields)


class EventLog:
    """Writes event lines, stamped by the terminal's clock, flushed at once."""

    def __init__(self, clock: Callable[[], datetime], stream: TextIO | None = None) -> None:
        self.clock = clock
        self.stream = stream or sys.stdout

    def __call__(self, name: str, /, **fields: Any) -> None:
        """Log one event now."""
        self.stream.write(format_line(self.clock(), name, fields) + "\n")
        self.stream.flush()
