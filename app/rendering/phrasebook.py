"""The phrase dictionary behind the pinyin, built once from installed packages into a compact file.

Sources, each overriding the one before: pypinyin's own phrases, pypinyin-dict's
``large_pinyin`` and then its ``cc_cedict`` phrases (when pypinyin-dict is installed), and
the project's ``data/phrases.tsv``. Importing pypinyin-dict's ~400k phrases takes ~5 s
and ~300 MB, so the first use builds a compact file under the cache directory
(``CUNXIANG_PHRASE_CACHE``, else ``~/.cache/cunxiang``): every word, in tone-numbered pinyin,
with an empty reading where it reads as its characters do (it still guides segmentation).
Every later process loads it in ~0.4 s. Nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import tempfile
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path

__all__ = [
    "RARE",
    "Phrasebook",
    "phrasebook",
    "data_file",
    "fingerprint",
    "build",
    "tone3",
    "PHRASES_TSV",
]

#: Bump when the build below changes what it writes.
BUILD_VERSION = 3
DATA_DIR = Path(__file__).resolve().parent / "data"
PHRASES_TSV = DATA_DIR / "phrases.tsv"
MAX_WORD = 8
#: Marks a word only the large dictionary knows: segmentation prefers common words on a tie.
RARE = "~"  # longer phrases add nothing to announcements and slow segmentation


@dataclass(frozen=True)
class Phrasebook:
    """Words → syllables, and each character's reading when it stands alone."""

    phrases: dict[str, str]
    chars: dict[str, str]

    def reading(self, word: str) -> str | None:
        """A word's syllables ('' when read as its characters), or None if not a word."""
        entry = self.phrases.get(word)
        return entry.lstrip(RARE) if entry is not None else None

    def rare(self, word: str) -> bool:
        """True for a word only the large dictionary knows."""
        return self.phrases.get(word, "").startswith(RARE)

    def char(self, ch: str) -> str | None:
        """The default reading of one character, or None for a character pypinyin lacks."""
        return self.chars.get(ch)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _project_phrases() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in PHRASES_TSV.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            word, reading = line.split("\t")[:2]
            out[word.strip()] = " ".join(reading.split())
    return out


@cache
def fingerprint() -> str:
    """Identifies the sources: the installed packages' versions and the project's phrases."""
    parts = [
        f"v{BUILD_VERSION}",
        f"pypinyin={_version('pypinyin')}",
        f"pypinyin-dict={_version('pypinyin-dict')}",
        hashlib.sha256(PHRASES_TSV.read_bytes()).hexdigest()[:16],
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


def _cache_root() -> Path:
    configured = os.environ.get("CUNXIANG_PHRASE_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cunxiang"


def data_file() -> Path:
    """Where the compact phrasebook of the installed packages lives (made on first use)."""
    return _cache_root() / f"phrasebook-{fingerprint()}.marshal"


@cache
def tone3(marked: str) -> str:
    """``zhòng`` → ``zhong4``; neutral tone as 5, ü as v."""
    from pypinyin.contrib.tone_convert import to_tone3

    return str(to_tone3(marked, neutral_tone_with_five=True)).replace("ü", "v")


def _external_sources() -> list[dict[str, list[list[str]]]]:
    """pypinyin-dict's phrase tables, in order of precedence (later wins)."""
    try:
        from pypinyin_dict.phrase_pinyin_data import cc_cedict, large_pinyin
    except ImportError:  # the phrase data is optional: pypinyin's own phrases still work
        return []
    return [large_pinyin.phrases_dict, cc_cedict.phrases_dict]


def build() -> Phrasebook:
    """Merge the sources and keep what reading character by character would get wrong."""
    from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

    chars = {chr(code): tone3(readings.split(",")[0]) for code, readings in PINYIN_DICT.items()}
    merged: dict[str, str] = {}
    common: set[str] = set()
    sources = _external_sources()
    for index, source in enumerate((PHRASES_DICT, *sources)):
        for word, readings in source.items():
            if 1 < len(word) <= MAX_WORD and len(readings) == len(word):
                merged[word] = _merge(merged.get(word), readings)
                if index != 1:  # large_pinyin alone holds many rare words
                    common.add(word)
    project = _project_phrases()
    merged.update(project)
    common.update(project)
    return Phrasebook(phrases={word: _entry(word, reading, chars, word in common)
                               for word, reading in merged.items()}, chars=chars)


def _entry(word: str, reading: str, chars: dict[str, str], common: bool) -> str:
    """How a word is stored: ``RARE`` first if rare; empty if read as its characters are."""
    if reading == " ".join(chars.get(ch, "?") for ch in word):
        reading = ""
    return reading if common else RARE + reading


def _merge(earlier: str | None, readings: list[list[str]]) -> str:
    """A later source's reading; where it offers several for a character, keep the earlier."""
    before = earlier.split() if earlier else []
    chosen = []
    for index, choices in enumerate(readings):
        options = [tone3(choice) for choice in choices]
        keep = before[index] if index < len(before) and before[index] in options else options[0]
        chosen.append(keep)
    return " ".join(chosen)


def _save(book: Phrasebook, target: Path) -> None:
    """Write atomically: a reader sees the whole file or none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            marshal.dump({"phrases": book.phrases, "chars": book.chars}, out)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _load(path: Path) -> Phrasebook | None:
    try:
        data = marshal.loads(path.read_bytes())
        return Phrasebook(phrases=data["phrases"], chars=data["chars"])
    except (OSError, EOFError, ValueError, TypeError, KeyError):
        return None


@cache
def phrasebook() -> Phrasebook:
    """The phrasebook of this process: loaded once, built (and saved) if missing."""
    path = data_file()
    book = _load(path)
    if book is None:
        book = build()
        with contextlib.suppress(OSError):  # a read-only cache: build each time, still correct
            _save(book, path)
    return book
