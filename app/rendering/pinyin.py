"""Tone-numbered pinyin for the ``espeak`` engine, phrase-aware so polyphones are read right.

Han characters go through ``polyphones.read_han``: dictionary words (pypinyin's phrases,
pypinyin-dict's, the project's ``data/phrases.tsv``), then context rules (大家得提前 dei3,
更好地 de5, 排成一行 hang2). Latin letters are spelled the way Chinese speakers name them
(CT → xi1 ti4).
"""

from __future__ import annotations

import re

from app.rendering.lexicon import Lexicon, apply_pronunciations, is_spoken_mark, syllable_of
from app.rendering.normalize import normalize_text
from app.rendering.polyphones import read_han

__all__ = ["syllables", "to_pinyin", "to_pinyin_lines", "LETTER_NAMES"]

#: Letter names as Chinese speakers say them, in pinyin espeak's Mandarin voice can read.
LETTER_NAMES: dict[str, str] = {
    "A": "ei1",
    "B": "bi4",
    "C": "xi1",
    "D": "di4",
    "E": "yi4",
    "F": "ai2 fu5",
    "G": "ji4",
    "H": "ai2 qi1",
    "I": "ai4",
    "J": "jie4",
    "K": "kai4",
    "L": "ai2 le5",
    "M": "ai2 mu5",
    "N": "en1",
    "O": "ou1",
    "P": "pi4",
    "Q": "kiu1",
    "R": "a4 er5",
    "S": "ai2 si5",
    "T": "ti4",
    "U": "you1",
    "V": "wei1",
    "W": "da2 bu5 liu2",
    "X": "ai2 ke4 si5",
    "Y": "wai4",
    "Z": "zei4",
}

# Latin words said as words, not spelled.
_LATIN_WORDS = {"WIFI": "wai4 fai1"}

_PUNCTUATION = {"，": ",", "、": ",", "；": ";", "：": ":", "。": ".", "！": "!", "？": "?"}
_TOKENS = re.compile(
    r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[\ue000-\uf8ff]+|[A-Za-z]+|[，、；：。！？]"
)

def _han_syllables(run: str) -> list[str]:
    """Pinyin of a run of Han characters, neutral tone as 5, ü as v (lv4, nv3)."""
    return read_han(run)


def _latin_syllables(word: str) -> list[str]:
    """A Latin word as letter names (CT → xi1 ti4), or as a known word (WiFi)."""
    upper = word.upper()
    if upper in _LATIN_WORDS:
        return _LATIN_WORDS[upper].split()
    return [part for letter in upper for part in LETTER_NAMES[letter].split()]


def _tokens(text: str) -> list[str]:
    """Syllables and punctuation marks (ASCII) of normalised text, in order."""
    out: list[str] = []
    for token in _TOKENS.findall(text):
        if token in _PUNCTUATION:
            out.append(_PUNCTUATION[token])
        elif is_spoken_mark(token[0]):  # decided by the lexicon or an inline hint
            out.extend(filter(None, (syllable_of(mark) for mark in token)))
        elif token.isascii():
            out.extend(_latin_syllables(token))
        else:
            out.extend(_han_syllables(token))
    return out


def syllables(text: str) -> list[str]:
    """The tone-numbered syllables of already normalised text, punctuation left out."""
    return [token for token in _tokens(text) if token not in _PUNCTUATION.values()]


def _join(tokens: list[str]) -> str:
    """Space-separated syllables with punctuation attached to the syllable before it."""
    text = ""
    for token in tokens:
        if token in _PUNCTUATION.values():
            text = text + token if text else text
        else:
            text = f"{text} {token}" if text else token
    return text


def to_pinyin(text: str, lexicon: Lexicon = ()) -> str:
    """Normalise one line of script and give the pinyin the ``espeak`` engine speaks.

    Inline hints (``重[chong2]庆``) and the ``lexicon``'s words are read as they say.
    """
    spoken = apply_pronunciations(text, lexicon).text
    return _join(_tokens(normalize_text(spoken).replace("\n", "。")))


def to_pinyin_lines(text: str, lexicon: Lexicon = ()) -> list[str]:
    """One pinyin line per input line (blank in, blank out): what ``render --pinyin`` prints."""
    return [to_pinyin(line, lexicon) for line in text.splitlines()]
