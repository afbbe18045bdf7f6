"""Request and response shapes for pronunciations and previews."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.rendering.lexicon import parse_pinyin

__all__ = [
    "PronunciationCreate",
    "PronunciationUpdate",
    "PronunciationRead",
    "PreviewRequest",
    "BroadcastPreviewRequest",
    "PreviewRead",
]

_HAN = frozenset(chr(code) for code in range(0x4E00, 0xA000)) | frozenset(
    chr(code) for code in range(0x3400, 0x4DC0)
)


def _han_word(value: str) -> str:
    value = value.strip()
    if not value or any(ch not in _HAN for ch in value):
        raise ValueError("must be Chinese characters only")
    return value


def _pinyin(value: str) -> str:
    syllables = parse_pinyin(value)
    if syllables is None:
        raise ValueError("must be tone-numbered pinyin syllables such as 'lu4 an1'")
    return " ".join(syllables)


def _check_count(word: str, pinyin: str) -> None:
    if len(pinyin.split()) != len(word):
        raise ValueError(f"{word} has {len(word)} character(s): give as many syllables")


Word = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_han_word)]
Pinyin = Annotated[str, Field(min_length=2, max_length=200), AfterValidator(_pinyin)]
Note = Annotated[str, Field(max_length=200)]


class PronunciationCreate(BaseModel):
    """A new entry: how ``word`` is read in ``area`` and below it."""

    model_config = ConfigDict(extra="forbid")

    word: Word = Field(description="Chinese characters, e.g. 六安")
    pinyin: Pinyin = Field(description="one tone-numbered syllable per character, e.g. 'lu4 an1'")
    area: str = Field(min_length=1, max_length=64)
    note: Note | None = None

    @model_validator(mode="after")
    def _one_syllable_per_character(self) -> PronunciationCreate:
        _check_count(self.word, self.pinyin)
        return self


class PronunciationUpdate(BaseModel):
    """Change an entry's pinyin or note (the word and area name the entry: make a new one)."""

    model_config = ConfigDict(extra="forbid")

    pinyin: Pinyin | None = None
    note: Note | None = None


class PronunciationRead(BaseModel):
    """An entry, and the approved announcements its change sent to be rendered again."""

    id: str
    word: str
    pinyin: str
    area: str
    note: str | None
    created_by: str
    created_at: datetime
    updated_by: str
    updated_at: datetime
    rerendering: list[str] = Field(
        default_factory=list,
        description="approved announcements re-rendered because of this change (writes only)",
    )


class PreviewRequest(BaseModel):
    """Text to hear as it will be read in ``area`` (optionally with an entry not yet saved)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    area: str | None = Field(default=None, max_length=64)
    word: Word | None = None
    pinyin: Pinyin | None = None

    @model_validator(mode="after")
    def _one_syllable_per_character(self) -> PreviewRequest:
        if (self.word is None) != (self.pinyin is None):
            raise ValueError("give word and pinyin together")
        if self.word and self.pinyin:
            _check_count(self.word, self.pinyin)
        return self


class BroadcastPreviewRequest(BaseModel):
    """An urgent broadcast's text, heard before it is sent."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    targets: list[str] = Field(min_length=1, max_length=1000)
    mode: Literal["actual", "exercise", "test"] = "actual"


class PreviewRead(BaseModel):
    """A short-lived rendering: where to fetch it, what it says and until when it is kept."""

    url: str = Field(description="the MP3 (authenticated, like the rest of the API)")
    pinyin: str = Field(description="the tone-numbered pinyin spoken, one line per script line")
    duration_ms: int
    expires_at: datetime
    revision: int | None = None
