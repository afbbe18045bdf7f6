"""Tone-numbered pinyin for the ``espeak`` engine, phrase-aware so polyphones are read right.

pypinyin segments the text with its phrase dictionary (银行 yin2 hang2, 行动 xing2 dong4);
the few phrases it gets wrong are corrected by ``PROJECT_PHRASES``. Latin letters are
spelled the way Chinese speakers name them (CT → xi1 ti4).
"""

from __future__ import annotations

import re

from pypinyin import Style, lazy_pinyin, load_phrases_dict

from app.rendering.normalize import normalize_text

__all__ = ["syllables", "to_pinyin", "to_pinyin_lines", "PROJECT_PHRASES", "LETTER_NAMES"]

#: Phrases pypinyin reads wrongly in announcements, in pypinyin's tone-mark notation.
PROJECT_PHRASES: dict[str, list[list[str]]] = {
    "流血": [["liú"], ["xuè"]],
    "献血": [["xiàn"], ["xuè"]],
    "出血": [["chū"], ["xuè"]],
    "止血": [["zhǐ"], ["xuè"]],
    "冲着": [["chòng"], ["zhe"]],
    "慢慢地": [["màn"], ["màn"], ["de"]],
    "认真地": [["rèn"], ["zhēn"], ["de"]],
    "积极地": [["jī"], ["jí"], ["de"]],
    "主动地": [["zhǔ"], ["dòng"], ["de"]],
    "及时地": [["jí"], ["shí"], ["de"]],
    "有序地": [["yǒu"], ["xù"], ["de"]],
    "安全地": [["ān"], ["quán"], ["de"]],
    "变质": [["biàn"], ["zhì"]],
    "朋友们": [["péng"], ["you"], ["men"]],
    "村村响": [["cūn"], ["cūn"], ["xiǎng"]],
    "大喇叭": [["dà"], ["lǎ"], ["ba"]],
}

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
_TOKENS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z]+|[，、；：。！？]")

load_phrases_dict(PROJECT_PHRASES)


def _han_syllables(run: str) -> list[str]:
    """Pinyin of a run of Han characters, neutral tone as 5, ü as v (lv4, nv3)."""
    return lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, errors="ignore")


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


def to_pinyin(text: str) -> str:
    """Normalise one line of script and give the pinyin the ``espeak`` engine speaks."""
    return _join(_tokens(normalize_text(text).replace("\n", "。")))


def to_pinyin_lines(text: str) -> list[str]:
    """One pinyin line per input line (blank in, blank out): what ``render --pinyin`` prints."""
    return [to_pinyin(line) for line in text.splitlines()]
