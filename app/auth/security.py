"""Secrets: argon2 password hashes and opaque bearer tokens stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "hash_password",
    "verify_password",
    "new_token",
    "token_digest",
    "USER_TOKEN_PREFIX",
    "API_KEY_PREFIX",
    "TERMINAL_TOKEN_PREFIX",
]

USER_TOKEN_PREFIX = "cxu_"
API_KEY_PREFIX = "cxk_"
TERMINAL_TOKEN_PREFIX = "cxt_"

# Moderate cost: logins are rare, but tests and a 2-core box must not crawl.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_DUMMY_HASH = _hasher.hash("cunxiang-dummy-password")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; spends the same effort when the user is unknown."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token(prefix: str) -> str:
    """A fresh random bearer secret such as ``cxk_…`` (256 bits)."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored (tokens are random, no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()
