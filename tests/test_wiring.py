"""What runs is what app/wiring.py lists: every event has its subscribers, nothing registers
itself by being imported, nothing is listed twice."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import get_settings
from app.playout.longpoll import TerminalRuntime
from app.runtime import events
from app.wiring import (
    EVENTS,
    LEADER_JOBS,
    SUBSCRIBERS,
    TOKEN_KINDS,
    build_services,
    wire,
)

APP = Path(__file__).resolve().parent.parent / "app"
# Published for listeners outside the service (tests, an operator's extension): nothing in
# the service reacts to it.
UNHEARD = {"speaker.health"}


def _emitted() -> dict[str, list[str]]:
    """Every event name passed to ``emit(session, "name", …)`` in app/, with where."""
    found: dict[str, list[str]] = {}
    for path in sorted(APP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "emit"
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
                where = f"{path.relative_to(APP.parent)}:{node.lineno}"
                found.setdefault(str(node.args[1].value), []).append(where)
    return found


def _service_subscriptions(env: dict[str, str]) -> list[tuple[str, object]]:
    services = build_services(get_settings().model_copy(update={"scheduler": True}),
                              terminals=TerminalRuntime())
    return [(name, handler) for entry in services.entries for name, handler in entry.hears]


def test_every_event_emitted_is_listed_and_every_listed_one_is_emitted() -> None:
    emitted = _emitted()
    assert set(emitted) == set(EVENTS), (
        f"emitted but not in app.wiring.EVENTS: {sorted(set(emitted) - set(EVENTS))}; "
        f"listed but never emitted: {sorted(set(EVENTS) - set(emitted))}")


def test_every_event_has_its_subscribers_wired_and_none_twice(env: dict[str, str]) -> None:
    wired = [(name, handler) for name, handler in SUBSCRIBERS]
    live = _service_subscriptions(env)
    unknown = sorted({name for name, _ in wired + live} - set(EVENTS))
    assert not unknown, f"subscribed to events nobody emits: {unknown}"
    heard = {name for name, _ in wired + live}
    assert set(EVENTS) - heard == UNHEARD, (
        f"events nothing hears: {sorted(set(EVENTS) - heard - UNHEARD)}")
    assert len(set(wired)) == len(wired), "a reaction is listed twice"
    assert len(set(live)) == len(live), "a service hears an event twice"


def test_installing_the_wiring_again_replaces_it_and_refuses_a_handler_twice() -> None:
    wire()
    wire()
    for name in EVENTS:
        assert events.subscribers(name) == tuple(h for n, h in SUBSCRIBERS if n == name)
    name, handler = SUBSCRIBERS[0]
    with pytest.raises(ValueError, match="twice"):
        events.install([*SUBSCRIBERS, (name, handler)])
    wire()


def test_the_lists_name_each_job_and_token_kind_once() -> None:
    names = [job.name for job in LEADER_JOBS]
    assert len(set(names)) == len(names)
    assert set(TOKEN_KINDS) == {"cxu_", "cxk_", "cxt_"}


def test_importing_the_whole_app_registers_nothing() -> None:
    """Only app.wiring.wire() installs reactions, token kinds, usage checks and collectors:
    a process that imports every module but never calls it has none of them."""
    probe = """
import pkgutil, importlib, app
for info in pkgutil.walk_packages(app.__path__, "app."):
    if ".migrations" not in info.name and info.name != "app.__main__":
        importlib.import_module(info.name)
from app.runtime import events
from app.auth import tokens
from app.areas.service import AREA_USAGE_CHECKS
from app.playlists.service import PLAYLIST_USAGE_CHECKS
from app.daytypes import service as day_types
from app.metrics import REGISTRY
import app.wiring as wiring
names = set(wiring.EVENTS)
print(sum(len(events.subscribers(n)) for n in names), len(tokens._RESOLVERS),
      len(AREA_USAGE_CHECKS), len(PLAYLIST_USAGE_CHECKS), len(day_types._finders),
      any("feed" in n for n in REGISTRY._names_to_collectors))
wiring.wire()
print(sum(len(events.subscribers(n)) for n in names) == len(wiring.SUBSCRIBERS),
      len(tokens._RESOLVERS), any("feed" in n for n in REGISTRY._names_to_collectors))
"""
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=APP.parent, timeout=120)
    before, after = result.stdout.splitlines()[-2:]
    assert before == "0 0 0 0 0 False"
    assert after == "True 3 True"
