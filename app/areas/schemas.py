"""Request and response shapes for areas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.areas.divisions import normalise_division

__all__ = ["AreaCreate", "AreaUpdate", "AreaRead", "ImportResult", "ImportRead", "Level"]

Level = Literal["district", "town", "village"]
Code = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")


def _division(value: str | None) -> str | None:
    return normalise_division(value) if value is not None else None


DivisionCode = Annotated[str | None, AfterValidator(_division), Field(
    description="official administrative division code (行政区划代码): 12 digits, or 6/9 "
    "(zeros are added below its level)", examples=["130132100201"])]


class AreaCreate(BaseModel):
    """A new district, town or village."""

    model_config = ConfigDict(extra="forbid")

    code: str = Code
    name: str = Field(min_length=1, max_length=200)
    level: Level
    parent: str | None = None
    division_code: DivisionCode = None


class AreaUpdate(BaseModel):
    """Rename an area or move it under another parent of the right level."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    parent: str | None = None
    division_code: DivisionCode = None


class AreaRead(BaseModel):
    """An area as clients see it."""

    code: str
    name: str
    level: Level
    parent: str | None
    path: str
    division_code: str | None = None


class ImportResult(BaseModel):
    """What a CSV import changed."""

    created: int
    updated: int


class ImportRead(BaseModel):
    """A CSV import written in the background: poll it until ``status`` is done or failed."""

    id: str
    status: Literal["running", "done", "failed"]
    total: int = Field(description="lines to write")
    done: int = Field(description="lines written so far")
    created: int
    updated: int
    errors: list[dict[str, Any]] = Field(
        default_factory=list, description="why it failed (areas changed while it ran)")
    created_at: datetime | None = None
    finished_at: datetime | None = None
