"""Text no request may carry: a NUL character or a lone UTF-16 surrogate, anywhere.

Neither can be stored: PostgreSQL refuses a NUL in any text value and SQLite's driver
cannot encode a lone surrogate (``"\\udfff"``, which JSON and Python allow). Left to reach
the database, either turns a client's typo or an attacker's probe into a 500, or worse, into
a batch write that fails again and again. They are refused at the door instead: this
module finds them (pure, no HTTP), :mod:`app.guard` answers 422.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime

__all__ = [
    "hostile_reason",
    "refuse_hostile",
    "find_hostile",
    "find_hostile_in_json",
    "SafeText",
    "refuse_unreal_time",
    "SaneTime",
    "SaneDate",
    "EARLIEST",
    "LATEST",
]

_HOSTILE = re.compile("[\x00\ud800-\udfff]")
# What a JSON text must contain to decode to a NUL or a lone surrogate: an escape
# (\u0000, \uD800–\uDFFF), a raw NUL byte, or UTF-8 bytes of a surrogate (which
# json.loads decodes with "surrogatepass"). A body without any of them is clean.
_MAYBE_HOSTILE_JSON = re.compile(rb"\\u0000|\\u[dD][89a-fA-F]|\x00|\xed[\xa0-\xbf]")


def hostile_reason(text: str) -> str | None:
    """Why ``text`` cannot be accepted, or None when it is fine."""
    found = _HOSTILE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "a NUL character (U+0000) is not allowed"
    return "a lone surrogate (U+D800–U+DFFF) is not valid Unicode text"


def refuse_hostile(text: str) -> str:
    """A pydantic validator: ``text`` unchanged, or ValueError saying what is wrong."""
    reason = hostile_reason(text)
    if reason is not None:
        raise ValueError(reason)
    return text


SafeText = Annotated[str, AfterValidator(refuse_hostile)]

# Times a client may send. Outside them a conversion to UTC can overflow (0001-01-01 with
# an eastern offset is year 0) and nothing of this service means such a time anyway.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


Moment = TypeVar("Moment", bound=date)


def refuse_unreal_time(moment: Moment) -> Moment:
    """A pydantic validator: a time or date unchanged when between 1900 and 9000, else
    ValueError."""
    if EARLIEST.year <= moment.year < LATEST.year:  # also naive ones, local time added later
        return moment
    raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year} is expected")


SaneTime = Annotated[AwareDatetime, AfterValidator(refuse_unreal_time)]
SaneDate = Annotated[date, AfterValidator(refuse_unreal_time)]


def find_hostile(value: Any, where: str = "") -> tuple[str, str] | None:
    """The first ``(field, reason)`` of a decoded JSON value holding hostile text (keys too)."""
    if isinstance(value, str):
        reason = hostile_reason(value)
        return (where or "body", reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = _HOSTILE.sub("\ufffd", f"{where}.{key}" if where else str(key))
            reason = hostile_reason(key)
            if reason:
                return name, reason
            found = find_hostile(item, name)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_hostile(item, f"{where}.{index}" if where else str(index))
            if found:
                return found
    return None


def find_hostile_in_json(raw: bytes) -> tuple[str, str] | None:
    """``(field, reason)`` when the JSON text ``raw`` decodes to hostile text; None when it is
    clean or is not JSON at all (the route answers that as usual)."""
    if not _MAYBE_HOSTILE_JSON.search(raw):
        return None  # the common case: a byte scan, no second decoding
    try:
        decoded = json.loads(raw)
    except ValueError:
        return None
    return find_hostile(decoded)
