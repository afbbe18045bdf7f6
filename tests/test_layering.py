"""The import layering of ``app``: floors, pure cores and no package cycles (README, Architecture).

Floors, bottom to top; a module may import its own floor and the floors below, never above:

0. foundation — settings, errors, ids, the database, storage, metrics, and ``app.runtime``
   (jobs, lease, scheduler, events, workers, long writes): no part of the domain;
1. pure cores — text to speech (``app.rendering``) and the rules listed in ``PURE`` below:
   no database, no FastAPI;
2. domains — one package per part (``models``, ``schemas``, ``service`` …), without FastAPI;
3. the edge — each domain's HTTP modules (``router``, ``*_router``, ``deps``, ``fastpath``),
   the console, the app and its wiring, the command line and the site file.

Every import counts, also one inside a function or under ``TYPE_CHECKING``. Among domain
packages no cycle is allowed (their edge modules sit on the top floor and may import any
domain). A new top-level package must be given a floor here.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "app"

FOUNDATION = {"app", "app.config", "app.errors", "app.ids", "app.inputs", "app.timeparams",
              "app.csvout", "app.db", "app.pagination", "app.metrics", "app.readiness",
              "app.storage", "app.runtime", "app.rowsets", "app.gctune"}
DOMAINS = {"app.auth", "app.audit", "app.areas", "app.users", "app.media", "app.daytypes",
           "app.pronunciations", "app.announcements", "app.playlists", "app.speakers",
           "app.playout", "app.schedules", "app.maintenance", "app.broadcasts", "app.feeds"}
TOP = {"app.main", "app.wiring", "app.cli", "app.__main__", "app.console", "app.apidocs",
       "app.openapi", "app.guard", "app.sitefile", "app.terminal", "app.models", "app.migrate",
       "app.migrations"}
# Pure cores: whole packages, and single modules inside domains.
PURE_PACKAGES = {"app.rendering"}
PURE = {"app.schedules.rules", "app.schedules.lunar", "app.playout.priority",
        "app.broadcasts.cap", "app.broadcasts.geo", "app.broadcasts.shapes",
        "app.broadcasts.states", "app.auth.permissions", "app.speakers.operating",
        "app.maintenance.causes", "app.maintenance.powercuts", "app.maintenance.timeline",
        "app.playlists.m3u8"}
# What a pure core may use of the floor below it: storage has no database either.
PURE_MAY_USE = {"app.storage"}
EDGE_NAMES = {"router", "deps", "fastpath"}
WEB = ("fastapi", "starlette")
DATABASE = ("sqlalchemy", "app.db")
FLOORS = ("foundation", "pure core", "domain", "edge")


@dataclass(frozen=True)
class Import:
    """One import statement: who, where, of what."""

    module: str
    path: str
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(APP.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> list[Import]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        module = _module_name(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolved against this module's package
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # "from app.x import y" may name a module y: count the most precise one.
                targets = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}")
                           else base for alias in node.names]
            rel = str(path.relative_to(APP.parent))
            found += [Import(module, rel, node.lineno, t) for t in targets]
    return found


@cache
def _is_module(name: str) -> bool:
    path = APP.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _top(name: str) -> str:
    """``app.x`` for any module of the top-level package or module ``x``."""
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def _is_edge(module: str) -> bool:
    last = module.rpartition(".")[2]
    return _top(module) in DOMAINS and (last in EDGE_NAMES or last.endswith("_router"))


def _is_pure(module: str) -> bool:
    return module in PURE or _top(module) in PURE_PACKAGES


def floor_of(module: str) -> int:
    """The floor of a module of ``app`` (0 foundation … 3 edge)."""
    top = _top(module)
    if _is_edge(module) or top in TOP:
        return 3
    if _is_pure(module):
        return 1
    if top in DOMAINS:
        return 2
    if top in FOUNDATION:
        return 0
    raise AssertionError(f"{module}: give {top} a floor in tests/test_layering.py")


IMPORTS = _imports()
OWN = [i for i in IMPORTS if i.target == "app" or i.target.startswith("app.")]


def test_every_package_has_a_floor() -> None:
    for module in sorted({i.module for i in IMPORTS}):
        floor_of(module)


def test_no_module_imports_a_floor_above_its_own() -> None:
    upward = [f"{i} ({FLOORS[floor_of(i.target)]}) from the {FLOORS[floor_of(i.module)]} floor"
              for i in OWN if floor_of(i.target) > floor_of(i.module)]
    assert not upward, "imports from a lower floor to a higher one:\n" + "\n".join(upward)


def test_pure_cores_use_no_database_web_or_impure_module() -> None:
    bad = []
    for i in IMPORTS:
        if not _is_pure(i.module):
            continue
        if i.target.startswith(WEB + DATABASE):
            bad.append(f"{i}: a pure core uses no database and no FastAPI")
        elif i.target.startswith("app.") and not (
                _is_pure(i.target) or _top(i.target) in PURE_MAY_USE):
            bad.append(f"{i}: a pure core imports only pure cores ({', '.join(PURE_MAY_USE)})")
    assert not bad, "\n".join(bad)


def test_fastapi_stays_at_the_edge_and_out_of_the_runtime() -> None:
    bad = [f"{i}: FastAPI belongs to the edge (a router, deps, the app)" for i in IMPORTS
           if i.target.startswith(WEB) and (
               floor_of(i.module) in (1, 2) or _top(i.module) == "app.runtime")]
    assert not bad, "\n".join(bad)


def _domain_graph() -> dict[str, dict[str, Import]]:
    """Domain package → domain package it imports → one such import (edge modules left out)."""
    graph: dict[str, dict[str, Import]] = defaultdict(dict)
    for i in OWN:
        source, target = _top(i.module), _top(i.target)
        if (source != target and floor_of(i.module) < 3 and source in DOMAINS
                and target in DOMAINS):
            graph[source].setdefault(target, i)
    return graph


def _cycle(graph: dict[str, dict[str, Import]]) -> list[str] | None:
    """A cycle of packages, if there is one (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_package_cycles_among_the_domains() -> None:
    graph = _domain_graph()
    cycle = _cycle(graph)
    if cycle:
        pairs = zip(cycle, cycle[1:], strict=False)
        steps = "\n".join(f"  {a} → {b}: {graph[a][b]}" for a, b in pairs)
        pytest.fail(f"packages import each other in a cycle:\n{steps}")
    # The foundation is acyclic too (a top-level module counts as one package).
    base: dict[str, dict[str, Import]] = defaultdict(dict)
    for i in OWN:
        source, target = _top(i.module), _top(i.target)
        if source != target and source in FOUNDATION and target in FOUNDATION:
            base[source].setdefault(target, i)
    cycle = _cycle(base)
    assert cycle is None, f"the foundation's modules import each other in a cycle: {cycle}"


def test_the_checks_see_what_they_are_meant_to() -> None:
    """The rules above would catch a bad import: they are not vacuous."""
    assert floor_of("app.schedules.router") == 3 and floor_of("app.schedules.service") == 2
    assert floor_of("app.runtime.scheduler") == 0 and floor_of("app.rendering.pcm") == 1
    assert _cycle({"app.a": {"app.b": OWN[0]}, "app.b": {"app.a": OWN[0]}}) is not None
    graph = _domain_graph()
    assert "app.announcements" in graph["app.playlists"]  # a known, allowed dependency
    assert any(i.target.startswith("sqlalchemy") for i in IMPORTS)
