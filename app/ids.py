"""Opaque, sortable identifiers: a kind prefix, a millisecond timestamp and randomness."""

from __future__ import annotations

import secrets
import time

__all__ = ["new_id"]

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """A new id such as ``ann_01hx…``: sorts by creation time, unique across processes."""
    stamp = _b32(time.time_ns() // 1_000_000, 10)
    noise = _b32(secrets.randbits(60), 12)
    return f"{prefix}_{stamp}{noise}"
