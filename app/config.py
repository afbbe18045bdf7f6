"""Service settings: every ``CUNXIANG_*`` variable of SPEC §2, validated once at start-up."""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.storage.location import parse_media_url

__all__ = ["Settings", "SettingsError", "get_settings", "reset_settings", "parse_quiet_hours"]

_QUIET = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")


class SettingsError(RuntimeError):
    """Raised when the environment holds an invalid setting; the message says which and why."""


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """Parse ``"22:00-06:00"`` into (start, end) local times; the interval may wrap midnight."""
    match = _QUIET.match(value.strip())
    if not match:
        raise ValueError(f"expected HH:MM-HH:MM, got {value!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return time(h1, m1), time(h2, m2)


class Settings(BaseSettings):
    """All configuration of the service, read from ``CUNXIANG_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="CUNXIANG_", extra="ignore")

    database_url: str = "sqlite:///./var/cunxiang.db"
    media_dir: Path = Path("./audio/media")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    timezone: str = "Asia/Shanghai"
    admin_password: str | None = None
    quiet_hours: str = "22:00-06:00"
    heartbeat_timeout: int = Field(default=180, ge=5, le=86400)
    ticket_grace: int = Field(default=600, ge=0, le=7 * 86400)
    tts_engine: str = "espeak"
    tts_voice: str = "cmn-latn-pinyin"
    tts_command: str | None = None
    max_upload_mb: int = Field(default=50, ge=1, le=2048)
    horizon: int = Field(default=86400, ge=60, le=14 * 86400)
    retention_days: int = Field(default=400, ge=1, le=36500)
    render_cache_days: int = Field(default=30, ge=1, le=3650)
    token_ttl: int = Field(default=12 * 3600, ge=60, le=30 * 86400)
    scheduler: bool = True
    render_workers: int = Field(default=2, ge=1, le=64)
    max_recording_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Request bodies (see app/guard.py): JSON and forms, CAP documents, CSV area imports.
    max_json_kb: int = Field(default=1024, ge=16, le=64 * 1024)
    max_cap_mb: int = Field(default=4, ge=1, le=256)
    max_import_mb: int = Field(default=32, ge=1, le=1024)
    secure_cookie: bool = False  # the console's cookie only over HTTPS (a site behind TLS)
    # The scheduler lease (SPEC §10): a dead leader is replaced within ttl + renew seconds.
    lease_ttl: float = Field(default=6.0, ge=1.0, le=600.0)
    lease_renew: float = Field(default=2.0, ge=0.1, le=300.0)
    # Shared media (several nodes): an S3-compatible object store; media_dir is then each
    # node's local cache of it. Unset: media live in media_dir alone.
    media_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: str | None = None
    s3_addressing_style: str = "auto"
    # Behind a load balancer: the addresses whose X-Forwarded-Proto/-For are believed.
    forwarded_allow_ips: str | None = None
    # On SIGTERM, requests still running after this many seconds (long-polls) are cut, so a
    # node restarts quickly; nginx sends their terminals' GETs to another node.
    shutdown_grace: int = Field(default=10, ge=0, le=600)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_format(cls, value: str) -> str:
        parse_quiet_hours(value)
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("only sqlite:// and postgresql+psycopg:// URLs are supported")
        return value

    @field_validator("tts_engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", value):
            raise ValueError(f"invalid engine name {value!r}")
        return value

    @model_validator(mode="after")
    def _renew_well_within_ttl(self) -> Settings:
        if self.lease_renew * 2 > self.lease_ttl:
            raise ValueError("CUNXIANG_LEASE_RENEW must be at most half of CUNXIANG_LEASE_TTL")
        return self

    @field_validator("media_url")
    @classmethod
    def _known_media_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parse_media_url(value)
        return value

    @field_validator("s3_addressing_style")
    @classmethod
    def _known_addressing(cls, value: str) -> str:
        if value not in ("auto", "path", "virtual"):
            raise ValueError("expected auto, path or virtual")
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The service's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def quiet(self) -> tuple[time, time]:
        """Quiet hours as (start, end) local times."""
        return parse_quiet_hours(self.quiet_hours)

    @property
    def max_upload_bytes(self) -> int:
        """Largest accepted recording in bytes."""
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_recording_ms(self) -> int:
        """Longest accepted recording in milliseconds."""
        return self.max_recording_minutes * 60 * 1000

    @property
    def max_json_bytes(self) -> int:
        """Largest accepted JSON or form body in bytes."""
        return self.max_json_kb * 1024

    @property
    def max_cap_bytes(self) -> int:
        """Largest accepted CAP document in bytes."""
        return self.max_cap_mb * 1024 * 1024

    @property
    def max_import_bytes(self) -> int:
        """Largest accepted CSV import in bytes."""
        return self.max_import_mb * 1024 * 1024

    @property
    def is_sqlite(self) -> bool:
        """True when running on the embedded SQLite database."""
        return self.database_url.startswith("sqlite")


def _explain(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        if not err["loc"]:  # a rule across several variables names them itself
            lines.append(err["msg"].removeprefix("Value error, "))
            continue
        name = "CUNXIANG_" + "_".join(str(p) for p in err["loc"]).upper()
        lines.append(f"{name}: {err['msg']}")
    return "invalid configuration: " + "; ".join(lines)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The one Settings instance; raises SettingsError naming each invalid variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between apps)."""
    get_settings.cache_clear()
