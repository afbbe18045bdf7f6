"""Request and response shapes of urgent broadcasts and CAP alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.inputs import SaneTime

__all__ = [
    "BroadcastCreate",
    "BroadcastRead",
    "VillageRead",
    "SpeakerCounts",
    "CapInfo",
    "CapOutcome",
    "Mode",
    "BroadcastStatus",
    "VillageState",
    "MAX_TEXT_CHARS",
    "MAX_TARGETS",
]

MAX_TEXT_CHARS = 2000
MAX_TARGETS = 10_000

Mode = Literal["actual", "exercise", "test"]
BroadcastStatus = Literal["active", "finished", "cancelled", "expired"]
VillageState = Literal["pending", "delivered", "playing", "played", "failed", "unreachable"]


def _not_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


def _text_limit(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if len(value) > MAX_TEXT_CHARS:
        raise ValueError(
            f"is limited to {MAX_TEXT_CHARS:,} characters (got {len(value):,}): an urgent "
            "text is synthesised while you wait; broadcast a longer script as an approved "
            "announcement"
        )
    return value


def _area_codes(values: list[str]) -> list[str]:
    codes = [v.strip() for v in values]
    if any(not c for c in codes):
        raise ValueError("area codes must not be blank")
    return list(dict.fromkeys(codes))


class BroadcastCreate(BaseModel):
    """An urgent broadcast: exactly one of ``text``, ``announcement`` or ``media``."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_not_blank)]
    level: int = Field(ge=1, le=4, description="1 (I, 特别重大) … 4 (IV, 一般)")
    targets: Annotated[
        list[Annotated[str, Field(max_length=64)]],
        Field(min_length=1, max_length=MAX_TARGETS),
        AfterValidator(_area_codes),
    ] = Field(description="area codes of any level: a town or district means all its villages")
    text: Annotated[str, AfterValidator(_text_limit)] | None = Field(
        None,
        description=f"spoken text, synthesised at once (at most {MAX_TEXT_CHARS:,} characters)",
    )
    announcement: str | None = Field(
        None, max_length=40, description="an approved announcement's id"
    )
    media: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$"), AfterValidator(str.lower)] | None = (
        Field(None, description="a stored file's sha256 (hex, either case)")
    )
    loop: int = Field(1, ge=1, le=20, description="how many times the audio plays back to back")
    expires_at: SaneTime | None = Field(
        None, description="default: one hour after it starts (levels III–IV raised in quiet "
        "hours start when they end); an expiry before that start is refused (422)")
    mode: Mode = "actual"

    @model_validator(mode="after")
    def _one_content(self) -> BroadcastCreate:
        given = [name for name in ("text", "announcement", "media") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of text, announcement or media"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


class SpeakerCounts(BaseModel):
    """A village's registered speakers, how many are online, how many confirmed the order."""

    total: int
    online: int
    confirmed: int


class VillageRead(BaseModel):
    """Where the broadcast stands in one village."""

    code: str
    state: VillageState
    speakers: SpeakerCounts
    order: str = Field(description="the village's play order id")
    detail: str | None = None


class CapInfo(BaseModel):
    """The CAP message a broadcast came from (how later Updates and Cancels name it)."""

    sender: str
    identifier: str
    sent: datetime
    msg_type: str


class BroadcastRead(BaseModel):
    """An urgent broadcast, with its state in every target village."""

    id: str
    title: str
    status: BroadcastStatus
    mode: Mode
    level: int
    priority: int
    targets: list[str]
    content: Literal["text", "announcement", "media", "cap_audio"]
    text: str | None
    announcement: str | None
    media: list[dict[str, object]]
    duration_ms: int
    loop: int
    start_at: datetime
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    created_by: str
    cancelled_by: str | None
    replaced_by: str | None
    cap: CapInfo | None
    warnings: list[str] = Field(
        default_factory=list,
        description="what the service noted about a CAP alert without refusing it: an inline "
        "audio <digest> that does not match, a text shortened to 2,000 characters, an <info> "
        "not played, <references> never broadcast here",
    )
    villages: list[VillageRead]


class CapOutcome(BaseModel):
    """What a CAP message that creates nothing did: cancelled broadcasts, or nothing at all."""

    result: Literal["cancelled", "not_broadcast"]
    detail: str
    identifier: str
    sender: str
    status: str
    msg_type: str
    broadcasts: list[BroadcastRead]
