"""Running the reference terminal as a real process and reading its log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from app.terminal.log import LogLine, parse_line
from tests.conftest import ROOT


class TerminalProcess:
    """``cunxiang terminal`` in a subprocess; its log lines collected as they come."""

    def __init__(self, server: str, token: str, cache: Path, *extra: str) -> None:
        self.argv = [sys.executable, "-m", "app", "terminal", "--server", server,
                     "--cache", str(cache), *extra]
        env = {**os.environ, "CUNXIANG_TERMINAL_TOKEN": token, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def events(self, name: str | None = None, **fields: str) -> list[LogLine]:
        """Parsed log lines, optionally of one event whose fields match."""
        found = []
        for raw in list(self.lines):
            line = parse_line(raw)
            if line is None or (name and line.event != name):
                continue
            if all(line.fields.get(k) == v for k, v in fields.items()):
                found.append(line)
        return found

    def wait_for(self, name: str, timeout: float = 15, **fields: str) -> LogLine:
        """The first log line of this event (waiting for it); fails with the log so far."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.events(name, **fields)
            if found:
                return found[0]
            if self.proc.poll() is not None and not self._reader.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError(f"no {name} {fields} in the terminal's log:\n" + self.log())

    def log(self) -> str:
        """The whole log so far."""
        return "\n".join(self.lines)

    def stop(self) -> int:
        """SIGTERM, then wait; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return self.proc.returncode


def wait_until(check: Callable[[], object], timeout: float = 15, every: float = 0.2) -> object:
    """Poll ``check`` until it returns something truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"condition not met in {timeout} s")


def lateness(line: LogLine) -> float:
    """Seconds between an order's start and the ``play`` line of its first item."""
    start = line.fields.get("start_at")
    assert start is not None
    return (line.at - datetime.fromisoformat(start)).total_seconds()
