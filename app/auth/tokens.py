"""Bearer tokens: which part resolves which kind, told at start-up by :mod:`app.wiring`.

A token's prefix says its kind — ``cxu_`` a person's login, ``cxk_`` an API key, ``cxt_`` a
speaker's terminal (:mod:`app.auth.security`); the part that issues a kind resolves it to a
:class:`~app.auth.permissions.Principal`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from app.auth.permissions import Principal

__all__ = ["TokenResolver", "install_token_kinds", "resolve_token"]

TokenResolver = Callable[[Session, str], Principal | None]
# A resolver per token prefix; installed at start-up by app.wiring.
_RESOLVERS: dict[str, TokenResolver] = {}


def install_token_kinds(kinds: Mapping[str, TokenResolver]) -> None:
    """The token kinds :func:`resolve_token` knows: a resolver per token prefix (replacing any
    installed before)."""
    _RESOLVERS.clear()
    _RESOLVERS.update(kinds)


def resolve_token(*, session: Session, token: str) -> Principal | None:
    """The principal a bearer token stands for, or None when it is unknown, revoked or expired."""
    for prefix, resolver in _RESOLVERS.items():
        if token.startswith(prefix):
            return resolver(session, token)
    return None
