"""Opaque, sortable identifiers: a kind prefix, a millisecond timestamp and randomness."""

from __future__ import annotations

import secrets
import time

__all__ = ["new_id", "new_ids"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Two base32 digits per 10-bit value: half the steps of a digit-by-digit encoding (ids are
# made in bulk: an import writes an audit entry per area).
_PAIRS = [_ALPHABET[i >> 5] + _ALPHABET[i & 31] for i in range(1024)]
# A random byte → one random digit (its low 5 bits): 256 bytes fall evenly on 32 digits.
_DIGIT_OF_BYTE = bytes(_ALPHABET.encode()[b & 31] for b in range(256))


def _b32(value: int, length: int) -> str:
    """``value`` as ``length`` base32 digits (``length`` even), most significant first."""
    pairs = []
    for _ in range(length // 2):
        value, rem = divmod(value, 1024)
        pairs.append(_PAIRS[rem])
    return "".join(reversed(pairs))


def new_id(prefix: str) -> str:
    """A new id such as ``ann_01hx…``: sorts by creation time, unique across processes."""
    stamp = _b32(time.time_ns() // 1_000_000, 10)
    noise = _b32(secrets.randbits(60), 12)
    return f"{prefix}_{stamp}{noise}"


def new_ids(prefix: str, count: int) -> list[str]:
    """``count`` new ids at once, shaped like :func:`new_id`'s (one timestamp, each its own
    60 random bits): an urgent broadcast names one order per village, thousands at a time."""
    stamp = _b32(time.time_ns() // 1_000_000, 10)
    noise = secrets.token_bytes(12 * count).translate(_DIGIT_OF_BYTE).decode()  # in C
    head = f"{prefix}_{stamp}"
    return [head + noise[i:i + 12] for i in range(0, 12 * count, 12)]
