"""What each role and API-key scope may do, and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Principal", "ROLE_PERMISSIONS", "API_KEY_SCOPES", "TERMINAL"]

TERMINAL = "terminal"

API_KEY_SCOPES = ("areas:read", "broadcasts:write", "broadcasts:read", "reports:read")

_READ = {
    "areas:read",
    "content:read",
    "schedules:read",
    "broadcasts:read",
    "speakers:read",
    "reports:read",
    "playlog:read",
    "tickets:read",
    "feeds:read",
}

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"*"}),
    "staff": frozenset(
        _READ
        | {
            "areas:write",
            "content:write",
            "schedules:write",
            "broadcasts:write",
            "speakers:write",
            "outages:write",
            "feeds:review",
        }
    ),
    # Reviewers also decide on official alerts a feed holds for review (relay or dismiss).
    "reviewer": frozenset(_READ | {"content:review", "feeds:review"}),
    "crew": frozenset(
        {"areas:read", "speakers:read", "tickets:read", "tickets:work", "outages:write"}
    ),
}


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user, an API key or a terminal, with its area and permissions."""

    kind: str  # "user" | "api_key" | "terminal" | "system"
    id: str
    name: str
    role: str | None
    area_code: str | None
    area_path: str | None  # None: the whole service
    permissions: frozenset[str] = field(default_factory=frozenset)
    village_code: str | None = None  # terminals only

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.kind}:{self.name}"

    def can(self, permission: str) -> bool:
        """True when the role or scopes grant ``permission``; ``X:write`` also grants ``X:read``."""
        if "*" in self.permissions or permission in self.permissions:
            return True
        # Whoever may change a thing may follow it: a key that sends broadcasts reads them back.
        resource, _, action = permission.partition(":")
        return action == "read" and f"{resource}:write" in self.permissions

    def covers(self, path: str | None) -> bool:
        """True when the area at ``path`` lies inside this principal's area."""
        if self.area_path is None:
            return True
        if path is None:
            return False
        return path == self.area_path or path.startswith(self.area_path + "/")

    @property
    def is_admin(self) -> bool:
        """True for users with the admin role."""
        return self.role == "admin"


SYSTEM = Principal(
    kind="system", id="system", name="cunxiang", role="admin", area_code=None,
    area_path=None, permissions=frozenset({"*"}),
)
