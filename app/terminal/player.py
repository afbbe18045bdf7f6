"""Players: a command run per media file (killed when its order is cut), or a dry run.

The command is split like a shell would; ``{file}`` and ``{volume}`` in it are replaced
by the file's path and the order's volume (0–100), and without ``{file}`` the path is
appended. Each file plays in its own process group, so killing it silences everything
the player started. The playout clock — not the player — decides when an item ends: a
player still running at that moment is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from pathlib import Path

__all__ = ["Player", "CommandPlayer", "DryRunPlayer", "DEFAULT_PLAYER", "PlayerError"]

DEFAULT_PLAYER = "ffplay -nodisp -autoexit -loglevel quiet -volume {volume} {file}"


class PlayerError(RuntimeError):
    """The player could not be started; the message says why."""


class Player:
    """Plays one file at a time."""

    dry_run = False

    async def play(self, path: Path, volume: int) -> None:
        """Start playing ``path`` (returns at once)."""

    async def stop(self) -> None:
        """Silence whatever is playing."""


class DryRunPlayer(Player):
    """Plays nothing: the log says what would have been played."""

    dry_run = True


class CommandPlayer(Player):
    """Runs a command per file, e.g. ``ffplay -nodisp -autoexit``."""

    def __init__(self, command: str = DEFAULT_PLAYER) -> None:
        self.argv = shlex.split(command)
        if not self.argv:
            raise PlayerError("the player command is empty")
        self._process: asyncio.subprocess.Process | None = None

    def _command(self, path: Path, volume: int) -> list[str]:
        argv = [arg.replace("{file}", str(path)).replace("{volume}", str(volume))
                for arg in self.argv]
        return argv if any("{file}" in arg for arg in self.argv) else [*argv, str(path)]

    async def play(self, path: Path, volume: int) -> None:
        """Start the command for ``path``; PlayerError if it cannot run."""
        await self.stop()
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self._command(path, volume), stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
            )
        except (OSError, ValueError) as exc:
            raise PlayerError(f"cannot run {self.argv[0]!r}: {exc}") from exc

    async def stop(self) -> None:
        """Terminate the player's process group; kill it if it lingers."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), 1.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
