"""Polyphones in context: segment with the phrasebook, then the project's context rules.

A run of Han characters is cut into dictionary words (fewest words, then fewest rare ones,
then the longest); a word reads as the phrasebook says, a character standing alone as its default.
Then the rules of ``data/polyphone_rules.tsv`` look at the context: each is a regular
expression with the polyphone marked ``【X】``, the reading it gets there, and its scope
(``alone``: only where no dictionary word holds the character; ``any``: also inside one).
The first rule that matches a character decides it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from app.rendering.phrasebook import (
    DATA_DIR,
    MAX_WORD,
    RARE,
    Phrasebook,
    fingerprint,
    phrasebook,
)

__all__ = ["Rule", "rules", "read_han", "segment", "reading_version", "RULES_TSV"]

RULES_TSV = DATA_DIR / "polyphone_rules.tsv"
_TARGET = re.compile(r"【(.)】")
_MACRO = re.compile(r"\{([A-Z_]+)\}")


@dataclass(frozen=True)
class Rule:
    """One context rule: where ``char`` is read ``reading``."""

    char: str
    pattern: re.Pattern[str]
    reading: str
    scope: str  # "alone" or "any"
    example: str
    line: int


def _compile(source: str, line: int) -> tuple[str, re.Pattern[str]]:
    marks = _TARGET.findall(source)
    if len(marks) != 1:
        raise ValueError(f"{RULES_TSV.name}:{line}: mark exactly one character as 【X】")
    return marks[0], re.compile(_TARGET.sub(lambda m: f"(?P<c>{re.escape(m[1])})", source))


@cache
def rules(path: Path = RULES_TSV) -> tuple[Rule, ...]:
    """The rule table, in order."""
    out = []
    macros: dict[str, str] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("="):
            name, body = line[1:].split("\t")
            macros[name] = _MACRO.sub(lambda m: macros[m[1]], body.strip())
            continue
        pattern, reading, scope, example = (part.strip() for part in line.split("\t"))
        if scope not in ("alone", "any"):
            raise ValueError(f"{path.name}:{number}: scope must be 'alone' or 'any'")
        char, compiled = _compile(_MACRO.sub(lambda m: macros[m[1]], pattern), number)
        out.append(Rule(char, compiled, reading, scope, example, number))
    return tuple(out)


def segment(run: str, book: Phrasebook) -> list[str]:
    """Cut a run of Han characters into words: fewest pieces, fewest rare words, longest words."""
    size = len(run)
    # best[i] for run[i:]: (pieces, rare words, -sum of squared lengths, -end of first word)
    best: list[tuple[int, int, int, int]] = [(0, 0, 0, -size)] * (size + 1)
    for start in range(size - 1, -1, -1):
        after = best[start + 1]
        choice = (after[0] + 1, after[1], after[2] - 1, -(start + 1))
        for end in range(start + 2, min(size, start + MAX_WORD) + 1):
            entry = book.phrases.get(run[start:end])
            if entry is not None:
                after = best[end]
                rare = after[1] + entry.startswith(RARE)
                candidate = (after[0] + 1, rare, after[2] - (end - start) ** 2, -end)
                if candidate < choice:
                    choice = candidate
        best[start] = choice
    words, start = [], 0
    while start < size:
        end = -best[start][3]
        words.append(run[start:end])
        start = end
    return words


def _apply_rules(run: str, readings: list[str], alone: list[bool]) -> None:
    decided = [False] * len(run)
    for rule in rules():
        if rule.char not in run:
            continue
        for match in rule.pattern.finditer(run):
            at = match.start("c")
            if decided[at] or (rule.scope == "alone" and not alone[at]):
                continue
            readings[at], decided[at] = rule.reading, True


def read_han(run: str, *, book: Phrasebook | None = None) -> list[str]:
    """Tone-numbered syllables of a run of Han characters (unknown characters are skipped)."""
    book = book or phrasebook()
    readings: list[str] = []
    alone: list[bool] = []
    for word in segment(run, book):
        if len(word) > 1:
            said = book.reading(word)
            readings.extend(said.split() if said else [book.char(ch) or "" for ch in word])
            alone.extend([False] * len(word))
        else:
            readings.append(book.char(word) or "")
            alone.append(True)
    _apply_rules(run, readings, alone)
    return [reading for reading in readings if reading]


@cache
def reading_version() -> str:
    """Changes whenever the rules or the phrasebook's sources change: speech caches key on it."""
    digest = hashlib.sha256(RULES_TSV.read_bytes())
    digest.update(fingerprint().encode())
    return digest.hexdigest()[:12]
