"""Request and response shapes for users, logins and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LoginRequest",
    "TokenRead",
    "UserCreate",
    "UserUpdate",
    "UserRead",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyRead",
    "Role",
    "Scope",
]

Role = Literal["admin", "staff", "reviewer", "crew"]
Scope = Literal["areas:read", "broadcasts:write", "broadcasts:read", "reports:read"]
Password = Field(min_length=8, max_length=256)


class LoginRequest(BaseModel):
    """Username and password for ``POST /api/v1/auth/token``."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenRead(BaseModel):
    """A freshly issued access token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserCreate(BaseModel):
    """A new user; staff and reviewers need an area."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9_.\-@]+$")
    password: str = Password
    role: Role
    area: str | None = None
    name: str | None = Field(default=None, max_length=100,
                             description="the person's name as the console shows it, e.g. 李明")


class UserUpdate(BaseModel):
    """Changes to a user: role, area, name, password or disabled."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    area: str | None = None
    name: str | None = Field(default=None, max_length=100)
    password: str | None = Field(default=None, min_length=8, max_length=256)
    disabled: bool | None = None


class UserRead(BaseModel):
    """A user as admins see them (never the password hash)."""

    id: str
    username: str
    name: str | None
    role: Role
    area: str | None
    disabled: bool
    created_at: datetime


class ApiKeyCreate(BaseModel):
    """A new API key with its scopes and area."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    scopes: list[Scope] = Field(min_length=1)
    area: str | None = None


class ApiKeyRead(BaseModel):
    """An API key as listed (its secret is never shown again)."""

    id: str
    name: str
    prefix: str
    scopes: list[str]
    area: str | None
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class ApiKeyCreated(ApiKeyRead):
    """The answer to creating a key: the only time ``key`` is shown."""

    key: str
