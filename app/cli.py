"""The ``cunxiang`` command: serve, migrate, users, areas, rendering, terminals and schedule files."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["main", "cli"]

cli = typer.Typer(help="cunxiang (村响): village emergency-broadcast scheduling.",
                  no_args_is_help=True, add_completion=False)


def _settings():  # type: ignore[no-untyped-def]
    from app.config import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(2) from None


def _fail(message: str, code: int = 1) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(code)


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from app.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    typer.echo(f"database at head: {_redact(settings.database_url)}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="listen address (CUNXIANG_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="listen port (CUNXIANG_PORT)")] = None,
    no_migrate: Annotated[bool, typer.Option("--no-migrate", help="skip migrations")] = False,
) -> None:
    """Migrate the database, then serve the API (and the scheduler) with uvicorn."""
    import uvicorn

    settings = _settings()
    if not no_migrate:
        migrate()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run("app.main:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, log_level="info", proxy_headers=False)


@cli.command("create-user")
def create_user(
    username: str,
    role: Annotated[str, typer.Option(help="admin, staff, reviewer or crew")] = "staff",
    area: Annotated[str | None, typer.Option(help="area code the user acts in")] = None,
    password: Annotated[str | None, typer.Option(
        help="password (default: prompt)", envvar="CUNXIANG_NEW_USER_PASSWORD")] = None,
) -> None:
    """Create a user from the command line (no server needed)."""
    from pydantic import ValidationError

    from app.auth.permissions import SYSTEM
    from app.auth.schemas import UserCreate
    from app.auth.service import create_user as create
    from app.db import session_scope
    from app.errors import AppError

    _settings()
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, password=password, role=role, area=area)  # type: ignore[arg-type]
        with session_scope() as session:
            create(session=session, principal=SYSTEM, data=data)
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), 2)
    except AppError as exc:
        _fail(exc.message)
    typer.echo(f"created {role} {username!r}")


@cli.command("import-areas")
def import_areas(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import areas from a CSV file (code,name,level,parent); all or nothing."""
    from app.areas.service import CsvImportError, import_areas_csv
    from app.auth.permissions import SYSTEM
    from app.db import session_scope

    _settings()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        _fail(f"{file}: not UTF-8", 2)
    try:
        with session_scope() as session:
            created, updated = import_areas_csv(session=session, principal=SYSTEM, text=text)
    except CsvImportError as exc:
        for err in exc.extra.get("errors", []):
            typer.secho(f"{file}:{err['line']}: {err['detail']}", fg="red", err=True)
        _fail(exc.message, 2)
    typer.echo(f"created {created}, updated {updated}")


def main() -> None:
    """Entry point of the ``cunxiang`` console script."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(cli())
