"""Text-to-speech engines behind one interface, and the registry that names them.

An engine turns normalised Chinese text into WAV audio. A new engine is one file in this
package that defines a class, named in :data:`BUILT_IN` (imported on first use by
``make_engine("name")``); ``register_engine`` adds one at start-up (tests, a site's own).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from app.rendering.errors import UnknownEngine
from app.rendering.normalize import Segment

__all__ = [
    "Engine",
    "PassageEngine",
    "register_engine",
    "make_engine",
    "engine_names",
    "engine_identity",
    "engine_options",
]


@runtime_checkable
class Engine(Protocol):
    """Speaks normalised text: ``synthesize(text)`` returns WAV bytes.

    ``name`` is the registry name; ``voice`` names the voice. Instances must be picklable
    (plain dataclasses are), as renders run in worker processes.
    """

    @property
    def name(self) -> str:
        """The registry name (``espeak``, ``command``)."""
        ...

    @property
    def voice(self) -> str:
        """The voice the engine speaks with."""
        ...

    def synthesize(self, text: str) -> bytes:
        """WAV audio of ``text`` (a sentence or clause of normalised text)."""
        ...


@runtime_checkable
class PassageEngine(Engine, Protocol):
    """An engine that can speak several segments with their pauses in one call (faster)."""

    def synthesize_passage(self, segments: Sequence[Segment]) -> bytes:
        """WAV audio of the segments with each segment's pause after it but the last."""
        ...


# The engines of this package: module and class, imported when first asked for.
BUILT_IN: dict[str, tuple[str, str]] = {
    "espeak": (f"{__name__}.espeak", "EspeakEngine"),
    "command": (f"{__name__}.command", "CommandEngine"),
}
# Engines added with register_engine.
_FACTORIES: dict[str, Callable[..., Engine]] = {}


def register_engine(name: str, factory: Callable[..., Engine]) -> None:
    """Make ``factory(**options)`` available as engine ``name``."""
    _FACTORIES[name] = factory


def make_engine(name: str, **options: Any) -> Engine:
    """Build the engine registered under ``name`` (``espeak``, ``command``, …)."""
    factory = _FACTORIES.get(name)
    if factory is None and name in BUILT_IN:
        module, cls = BUILT_IN[name]
        factory = getattr(importlib.import_module(module), cls)
    if factory is None:
        raise UnknownEngine(f"no text-to-speech engine named {name!r}")
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:
        raise UnknownEngine(f"engine {name!r} is misconfigured: {exc}") from exc


def engine_names() -> list[str]:
    """Names of the engines: the built-in ones and those registered."""
    return sorted(set(BUILT_IN) | set(_FACTORIES))


def engine_identity(engine: Engine) -> str:
    """Everything that changes how an engine sounds: the speech cache key starts with it."""
    identity = getattr(engine, "identity", None)
    return str(identity) if identity else f"{engine.name}|{engine.voice}"


def engine_options(engine: str, *, voice: str | None, command: str | None) -> dict[str, Any]:
    """The options of the configured engine (``CUNXIANG_TTS_VOICE`` / ``CUNXIANG_TTS_COMMAND``)."""
    if engine == "espeak":
        return {"voice": voice} if voice else {}
    if engine == "command":
        return {"command": command or ""}
    return {}
