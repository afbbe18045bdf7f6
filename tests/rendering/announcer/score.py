"""Score ``to_pinyin`` on the announcer test set: polyphones and numbers, reported apart.

Each case is a sentence from the style of a real village notice and the pinyin an announcer
gives the words around the polyphone or number. A case is right when that pinyin appears,
syllable for syllable, in what ``to_pinyin`` says for the sentence. Tone sandhi of 一 and 不
is not scored (either the citation tone or the changed one counts).

The held-out files (``holdout_*.tsv``) were written after the rules, from fresh sentences,
and are reported apart: they show how the rules do on text they were not written for.

Run: ``.venv/bin/python -m tests.rendering.announcer.score [-v]`` (``-v`` lists the misses).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = {"polyphones": HERE / "polyphones.tsv", "numbers": HERE / "numbers.tsv"}
# Held-out sets (issue #13): written after the rules above, to measure how they generalise.
HELD_OUT = {"holdout_polyphones": HERE / "holdout_polyphones.tsv",
            "holdout_numbers": HERE / "holdout_numbers.tsv"}
ALL_KINDS = {**KINDS, **HELD_OUT}
_SANDHI = {"yi2": "yi1", "yi4": "yi1", "bu2": "bu4"}


@dataclass(frozen=True)
class Case:
    """One sentence and the readings that count as right."""

    kind: str
    domain: str
    sentence: str
    expected: tuple[tuple[str, ...], ...]


def _syllables(pinyin: str) -> list[str]:
    words = re.findall(r"[a-zü]+[1-5]?", pinyin.lower())
    return [_SANDHI.get(word, word) for word in words]


def load_cases(kind: str) -> list[Case]:
    """The cases of one kind (``polyphones``, ``numbers`` or a ``holdout_`` one)."""
    cases = []
    for line in ALL_KINDS[kind].read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        domain, sentence, expected = line.split("\t")
        readings = tuple(tuple(_syllables(choice)) for choice in expected.split("/"))
        cases.append(Case(kind, domain, sentence, readings))
    return cases


def _contains(said: list[str], wanted: tuple[str, ...]) -> bool:
    size = len(wanted)
    return any(tuple(said[i : i + size]) == wanted for i in range(len(said) - size + 1))


def is_right(case: Case, said: str) -> bool:
    """True if one of the case's readings appears in ``said``."""
    syllables = _syllables(said)
    return any(_contains(syllables, wanted) for wanted in case.expected)


def score(kind: str) -> tuple[int, int, list[tuple[Case, str]]]:
    """(right, total, misses) of ``to_pinyin`` on one kind of case."""
    from app.rendering.pinyin import to_pinyin

    cases = load_cases(kind)
    misses = []
    for case in cases:
        said = to_pinyin(case.sentence)
        if not is_right(case, said):
            misses.append((case, said))
    return len(cases) - len(misses), len(cases), misses


def main(argv: list[str]) -> int:
    """Print each kind's accuracy (and its misses with ``-v``)."""
    verbose = "-v" in argv
    for kind in ALL_KINDS:
        right, total, misses = score(kind)
        print(f"{kind}: {right} of {total} right ({100 * right / total:.1f}%)")
        if verbose:
            for case, said in misses:
                wanted = " | ".join(" ".join(w) for w in case.expected)
                print(f"  {case.sentence}\n    want {wanted}\n    said {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
