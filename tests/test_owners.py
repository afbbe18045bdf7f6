"""Each table is written by the part that owns it (the package of its model); the others ask it.

A write is a model's constructor, ``insert``/``update``/``delete`` of a model, or any use of
its ``__table__`` (the Core table, taken to write in bulk). Reads are free.
"""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
WRITES = {"insert", "update", "delete", "postgresql_insert", "sqlite_insert",
          "insert_ignoring_duplicates"}


def _package(path: Path) -> str:
    return ".".join(path.relative_to(APP.parent).with_suffix("").parts[:2])


def _owners() -> dict[str, str]:
    """Model class name → the package defining it."""
    found = {}
    for path in APP.rglob("*models.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ClassDef) and any(
                    getattr(base, "id", None) == "Base" for base in node.bases):
                found[node.name] = _package(path)
    return found


def _writes(tree: ast.AST, owners: dict[str, str]) -> list[tuple[int, str, str]]:
    """(line, model, what) of every write construct naming a model."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in owners:
                found.append((node.lineno, name, f"{name}(…)"))
            elif name in WRITES and node.args and isinstance(node.args[0], ast.Name) \
                    and node.args[0].id in owners:
                found.append((node.lineno, node.args[0].id, f"{name}({node.args[0].id})"))
        elif isinstance(node, ast.Attribute) and node.attr == "__table__" \
                and isinstance(node.value, ast.Name) and node.value.id in owners:
            found.append((node.lineno, node.value.id, f"{node.value.id}.__table__"))
    return found


def test_every_table_is_written_by_its_own_part() -> None:
    owners = _owners()
    assert {"PlayOrder", "Speaker", "AuditEntry"} <= set(owners)
    foreign = []
    for path in sorted(APP.rglob("*.py")):
        package = _package(path)
        if package in ("app.migrations", "app.models"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        foreign += [f"{path.relative_to(APP.parent)}:{line}: {what} — {owners[model]} owns it"
                    for line, model, what in _writes(tree, owners) if owners[model] != package]
    assert not foreign, "tables written outside their part:\n" + "\n".join(foreign)


def test_the_scan_sees_a_write() -> None:
    owners = {"PlayOrder": "app.playout"}
    tree = ast.parse("session.execute(update(PlayOrder).values(state='x'))\n"
                     "rows = PlayOrder.__table__\nsession.add(PlayOrder(id='o'))\n")
    assert [what for _, _, what in sorted(_writes(tree, owners))] == [
        "update(PlayOrder)", "PlayOrder.__table__", "PlayOrder(…)"]
