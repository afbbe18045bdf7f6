"""Staff pronunciations: a lexicon of ``word → pinyin`` and inline hints such as ``重[chong2]庆``.

Both are applied to a script before normalisation: each character they decide is replaced
by a private-use character that stands for one tone-numbered syllable, so nothing later
(normalisation, the dictionary, the context rules) can read it otherwise, and the speech
caches key on the result. ``strip_hints`` gives the script as people should see it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache

__all__ = [
    "Lexicon",
    "Applied",
    "apply_pronunciations",
    "strip_hints",
    "parse_pinyin",
    "syllable_of",
    "is_spoken_mark",
    "HINT",
    "PUA_FIRST",
    "PUA_LAST",
]

#: Words and their pinyin (a mapping, or pairs in order of precedence: later wins).
Lexicon = Mapping[str, str] | Iterable[tuple[str, str]]

PUA_FIRST, PUA_LAST = 0xE000, 0xF8FF
_TONED = re.compile(r"^([a-zv]+)([1-5])$")
# A hint: Han characters, then their syllables in brackets (ASCII or full-width).
HINT = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff]+)[\[［]\s*([a-zA-ZüÜvV1-5 ]+?)\s*[\]］]")


@cache
def _bases() -> tuple[str, ...]:
    """Every toneless syllable pypinyin knows, in a fixed order (the private-use code table)."""
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.contrib.tone_convert import to_tone3

    found: set[str] = set()
    for readings in PINYIN_DICT.values():
        for marked in readings.split(","):
            plain = str(to_tone3(marked, neutral_tone_with_five=True)).replace("ü", "v")
            found.add(plain.rstrip("12345"))
    return tuple(sorted(base for base in found if base.isalpha() and base.isascii()))


@cache
def _index() -> dict[str, int]:
    return {base: number for number, base in enumerate(_bases())}


def parse_pinyin(text: str) -> list[str] | None:
    """``chong2 qing4`` → its syllables, normalised (ü as v, lower case); None if not pinyin."""
    syllables = text.strip().lower().replace("ü", "v").split()
    if not syllables:
        return None
    for syllable in syllables:
        match = _TONED.match(syllable)
        if match is None or match[1] not in _index():
            return None
    return syllables


def _mark(syllable: str) -> str:
    match = _TONED.match(syllable)
    assert match is not None  # parse_pinyin checked it
    return chr(PUA_FIRST + _index()[match[1]] * 5 + int(match[2]) - 1)


def is_spoken_mark(ch: str) -> bool:
    """True for a private-use character that stands for a syllable."""
    return PUA_FIRST <= ord(ch) <= PUA_LAST


def syllable_of(mark: str) -> str | None:
    """The syllable a private-use character stands for (None for one that stands for none)."""
    offset = ord(mark) - PUA_FIRST
    bases = _bases()
    if offset < 0 or offset // 5 >= len(bases):
        return None
    return f"{bases[offset // 5]}{offset % 5 + 1}"


def _marks(syllables: list[str]) -> str:
    return "".join(_mark(syllable) for syllable in syllables)


def _apply_hints(text: str) -> str:
    """``重[chong2]庆`` → the mark of chong2, then 庆; a hint that does not fit stays as text."""

    def replace(match: re.Match[str]) -> str:
        chars, syllables = match[1], parse_pinyin(match[2])
        if syllables is None or len(syllables) > len(chars):
            return match[0]
        kept = chars[: len(chars) - len(syllables)]
        return kept + _marks(syllables)

    return HINT.sub(replace, text)


def strip_hints(text: str) -> str:
    """The script as displayed: inline hints removed (``重[chong2]庆`` → 重庆)."""

    def replace(match: re.Match[str]) -> str:
        return match[1] if parse_pinyin(match[2]) else match[0]

    return HINT.sub(replace, text)


@dataclass(frozen=True)
class Applied:
    """A script with its pronunciations applied, and which lexicon entries it used."""

    text: str
    used: tuple[tuple[str, str], ...]

    @property
    def version(self) -> str:
        """Identifies the entries that applied ('' when none): render caches key on it."""
        if not self.used:
            return ""
        joined = "\n".join(f"{word}={reading}" for word, reading in self.used)
        return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:16]


def apply_pronunciations(text: str, lexicon: Lexicon = ()) -> Applied:
    """Apply inline hints, then the lexicon's words (longest first) to a script."""
    entries = dict(lexicon.items() if isinstance(lexicon, Mapping) else lexicon)
    text = _apply_hints(text)
    usable = {word: parse_pinyin(reading) for word, reading in entries.items() if word}
    words = sorted((w for w, s in usable.items() if s and len(s) == len(w) and w in text),
                   key=len, reverse=True)
    if not words:
        return Applied(text, ())
    pattern = re.compile("|".join(re.escape(word) for word in words))
    used: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        used.add(match[0])
        syllables = usable[match[0]]
        assert syllables is not None
        return _marks(syllables)

    text = pattern.sub(replace, text)
    return Applied(text, tuple(sorted((word, entries[word]) for word in used)))
