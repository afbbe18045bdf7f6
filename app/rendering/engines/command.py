"""The ``command`` engine: any program that reads UTF-8 text on stdin and writes WAV to stdout.

This is how a site plugs in a neural voice: ``CUNXIANG_TTS_COMMAND="piper --model zh.onnx
--output_file -"``. The command line is split like a shell would (no shell is run).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from typing import ClassVar

from app.rendering.errors import SynthesisFailed

__all__ = ["CommandEngine"]


@dataclass(frozen=True)
class CommandEngine:
    """Runs ``command`` once per sentence; ``voice`` labels it (defaults to the command)."""

    command: str = ""
    voice: str = ""
    timeout_s: float = 120.0
    name: ClassVar[str] = "command"

    def __post_init__(self) -> None:
        if not self.command or not self.command.strip():
            raise ValueError("the command engine needs a command line (CUNXIANG_TTS_COMMAND)")
        if not self.voice:
            object.__setattr__(self, "voice", self.command)

    @property
    def identity(self) -> str:
        """Engine, command and voice: what the speech cache is keyed by."""
        return f"{self.name}|{self.command}|{self.voice}"

    def synthesize(self, text: str) -> bytes:
        """WAV from the program's stdout for ``text`` on its stdin."""
        try:
            result = subprocess.run(
                shlex.split(self.command),
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self.timeout_s,
                check=False,
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise SynthesisFailed(f"the TTS command could not run: {exc}") from exc
        if result.returncode != 0:
            detail = result.stderr.decode("utf-8", "replace").strip()[-300:]
            raise SynthesisFailed(f"the TTS command failed ({result.returncode}): {detail}")
        if not result.stdout.startswith(b"RIFF"):
            raise SynthesisFailed("the TTS command wrote no WAV audio to stdout")
        return result.stdout

