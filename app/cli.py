"""The ``cunxiang`` command: serve, migrate, users, areas, rendering, terminals and
schedule files.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

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


def _wired_settings():  # type: ignore[no-untyped-def]
    """The settings, with the service's reactions wired (:func:`app.wiring.wire`): a command
    that writes to the database issues orders, wakes terminals … as the server does."""
    settings = _settings()
    from app.wiring import wire

    wire()
    return settings


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
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Behind a load balancer, believe its X-Forwarded-For/-Proto (the client's address for the
    # login throttle, https in media URLs) only from the addresses it is told.
    forwarded = settings.forwarded_allow_ips
    import app.main  # noqa: F401  (imported before the collector freezes what exists)
    from app.gctune import tune_collector

    tune_collector()
    uvicorn.run("app.main:create_app", factory=True, host=host or settings.host,
                port=port or settings.port, log_level="info", proxy_headers=bool(forwarded),
                forwarded_allow_ips=forwarded, timeout_graceful_shutdown=settings.shutdown_grace)


@cli.command("create-user")
def create_user(
    username: str,
    role: Annotated[str, typer.Option(help="admin, staff, reviewer or crew")] = "staff",
    area: Annotated[str | None, typer.Option(help="area code the user acts in")] = None,
    password: Annotated[str | None, typer.Option(
        help="password (default: prompt)", envvar="CUNXIANG_NEW_USER_PASSWORD")] = None,
    name: Annotated[str | None, typer.Option(help="the person's name, e.g. 李明")] = None,
) -> None:
    """Create a user from the command line (no server needed)."""
    from pydantic import ValidationError

    from app.auth.permissions import SYSTEM
    from app.db import session_scope
    from app.errors import AppError
    from app.users.schemas import UserCreate
    from app.users.service import create_user as create

    _wired_settings()
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        data = UserCreate(username=username, password=password, role=role,  # type: ignore[arg-type]
                          area=area, name=name)
        with session_scope() as session:
            create(session=session, principal=SYSTEM, data=data)
    except ValidationError as exc:
        _fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()), 2)
    except AppError as exc:
        _fail(exc.message)
    typer.echo(f"created {role} {username!r}")


@cli.command("import-areas")
def import_areas(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Import areas from a CSV file (code,name,level,parent); any bad line: nothing changes."""
    from app.areas.imports import accept_import, run_import
    from app.areas.service import CsvImportError
    from app.auth.permissions import SYSTEM
    from app.db import session_scope
    from app.runtime.chunked import Interrupted, request_stop, share_database

    settings = _wired_settings()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        _fail(f"{file}: not UTF-8", 2)
    try:
        with session_scope() as session:
            job = accept_import(session=session, principal=SYSTEM, text=text)
    except CsvImportError as exc:
        for err in exc.extra.get("errors", []):
            typer.secho(f"{file}:{err['line']}: {err['detail']}", fg="red", err=True)
        _fail(exc.message, 2)
    if settings.is_sqlite:
        share_database()  # a running server's writers get in between our chunks
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):  # stop between two chunks, not inside one
        signal.signal(sig, lambda *_: request_stop())
    bar = _ImportProgress(job.total)
    try:
        job = run_import(job.id, progress=bar.update)
    except Interrupted:
        bar.close()
        _fail(f"interrupted after {bar.done} of {job.total} line(s) (import {job.id}); the "
              "areas written so far stay. A running server finishes it within a minute, or "
              "run the same command again.", 130)
    bar.close()
    if job.status == "failed":
        for err in job.errors:
            typer.secho(f"{file}:{err['line']}: {err['detail']}", fg="red", err=True)
        _fail(f"the areas changed while importing: {job.done} of {job.total} line(s) "
              "were written", 2)
    typer.echo(f"created {job.created}, updated {job.updated}")


class _ImportProgress:
    """A progress bar on stderr (a line per 10 % when stderr is not a terminal)."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self._shown = total, 0, -1
        self._tty = sys.stderr.isatty()

    def update(self, job: Any) -> None:
        self.done = job.done
        share = self.done / self.total if self.total else 1.0
        if self._tty:
            filled = int(share * 30)
            sys.stderr.write(f"\rimporting [{'#' * filled}{'.' * (30 - filled)}] "
                             f"{self.done}/{self.total}")
            sys.stderr.flush()
        elif int(share * 10) > self._shown:
            self._shown = int(share * 10)
            typer.echo(f"imported {self.done}/{self.total} line(s)", err=True)

    def close(self) -> None:
        if self._tty:
            sys.stderr.write("\n")


def _read_script(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        _fail(f"{file}: not UTF-8", 2)
    return ""  # unreachable: _fail exits


def _render_with_progress(text: str, render: Callable[[], Any]) -> Any:
    """Run ``render`` in a thread while stderr shows what is being rendered and for how long."""
    import threading
    import time

    from app.rendering.normalize import normalize_text, split_segments

    sentences = len(split_segments(normalize_text(text)))
    typer.echo(f"rendering {len(text)} characters in {sentences} segment(s)…", err=True)
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["result"] = render()
        except BaseException as exc:  # handed to the main thread, which reports it
            outcome["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    started = time.monotonic()
    thread.start()
    spinner = "|/-\\"
    tick = 0
    while thread.is_alive():
        thread.join(0.2)
        if sys.stderr.isatty():
            tick += 1
            sys.stderr.write(f"\r  {spinner[tick % 4]} {time.monotonic() - started:5.1f} s")
            sys.stderr.flush()
    if sys.stderr.isatty():
        sys.stderr.write("\r" + " " * 20 + "\r")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


@cli.command()
def render(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a UTF-8 script")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="the MP3 to write (default: FILE with the suffix .mp3)")] = None,
    pinyin: Annotated[bool, typer.Option(
        "--pinyin", help="print the tone-numbered pinyin the espeak engine speaks, per line"
    )] = False,
    chime: Annotated[bool, typer.Option(help="attention chime before and after")] = False,
    engine: Annotated[str | None, typer.Option(help="TTS engine (CUNXIANG_TTS_ENGINE)")] = None,
) -> None:
    """Render a script to a −16 LUFS mono MP3 (no server needed), or print its pinyin."""
    text = _read_script(file)
    if pinyin:
        from app.rendering.pinyin import to_pinyin_lines

        for line in to_pinyin_lines(text):
            typer.echo(line)
        return
    output = output or file.with_suffix(".mp3")
    if output.resolve() == file.resolve():
        _fail(f"{file}: the MP3 would overwrite the script; give another with -o FILE", 2)
    import shutil

    from app.rendering import RenderingError, make_engine, render_script
    from app.rendering.engines import engine_options
    from app.storage.store import MediaStore

    settings = _settings()
    name = engine or settings.tts_engine
    try:
        speaker = make_engine(name, **engine_options(
            name, voice=settings.tts_voice, command=settings.tts_command))
        # The service's media store and render cache: a script rendered before is a lookup.
        result = _render_with_progress(text, lambda: render_script(
            text, engine=speaker, media_store=MediaStore(settings.media_dir), chime=chime))
    except RenderingError as exc:
        _fail(f"{file}: {exc.message}")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(result.path, output)
    typer.echo(f"wrote {output}: {result.duration_ms / 1000:.1f} s, "
               f"{result.loudness_lufs:.1f} LUFS{' (cached)' if result.cached else ''}")


@cli.command()
def terminal(
    server: Annotated[str, typer.Option(help="the cunxiang server, e.g. http://10.0.0.5:8000")],
    token: Annotated[str, typer.Option(help="this terminal's cxt_ token",
                                       envvar="CUNXIANG_TERMINAL_TOKEN")],
    cache: Annotated[Path, typer.Option(help="media, last program and queue")] = Path(
        "./terminal-cache"),
    player: Annotated[str | None, typer.Option(
        help="command per file; {file} and {volume} are filled in "
             "(default: ffplay -nodisp -autoexit -loglevel quiet -volume {volume} {file})")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="log what would play, play nothing")] = False,
    heartbeat: Annotated[float, typer.Option(min=1, help="seconds between heartbeats")] = 30.0,
    wait: Annotated[float, typer.Option(min=1, max=60, help="long-poll seconds")] = 50.0,
    power_file: Annotated[Path | None, typer.Option(
        help="a file holding mains, battery or off (read at each heartbeat)")] = None,
) -> None:
    """Run a village terminal: fetch the program, cache media, play on time, report back."""
    from app.terminal.player import DEFAULT_PLAYER
    from app.terminal.runner import TerminalConfig, run_terminal

    if dry_run and player:
        _fail("--player and --dry-run exclude each other", 2)
    config = TerminalConfig(server=server, token=token, cache_dir=cache,
                            player=None if dry_run else (player or DEFAULT_PLAYER),
                            heartbeat_s=heartbeat, wait_s=wait, power_file=power_file)
    raise typer.Exit(run_terminal(config))


DEMO_FILE = Path(__file__).resolve().parent.parent / "schedules" / "demo.yaml"


def _apply_file(file: Path, render_audio: bool) -> Any:
    """Migrate, apply a schedule file in one transaction, then render its audio (with progress);
    returns the file's document."""
    from app.db import session_scope
    from app.errors import AppError
    from app.migrate import upgrade
    from app.sitefile.apply import apply_schedule_file, load_schedule_file

    settings = _wired_settings()
    upgrade(settings.database_url)
    if settings.is_sqlite:
        from app.runtime.chunked import share_database

        share_database()  # big re-issues pause after each chunk for a running server
    try:
        document, base = load_schedule_file(file)
        with typer.progressbar(length=document.size, label=f"applying {file.name}",
                               file=sys.stderr) as bar, session_scope() as session:
            report = apply_schedule_file(session, document, base,
                                         progress=lambda _name: bar.update(1))
    except AppError as exc:
        _fail(f"{file}: {exc.message}", 2)
        return None
    typer.echo(report.summary())
    _print_tokens(report.tokens)
    if render_audio:
        _render_queued()
    return document


def _print_tokens(tokens: dict[str, str]) -> None:
    """New speakers' terminal tokens: shown this once, with the line that starts a terminal."""
    if not tokens:
        return
    settings = _settings()
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
    typer.echo("terminal tokens (shown once; a new one: console → 音柱终端 → 更换终端令牌):")
    for serial, token in tokens.items():
        typer.echo(f"  {serial}: cunxiang terminal --server http://{host}:{settings.port} "
                   f"--token {token}")


def _render_queued() -> None:
    from app.db import session_scope
    from app.sitefile.apply import queued_renders, render_queued_audio

    with session_scope() as session:
        pending = queued_renders(session)
    if not pending:
        return
    with typer.progressbar(length=pending, label="rendering announcements",
                           file=sys.stderr) as bar:
        failures = render_queued_audio(lambda: bar.update(1))
    for reason in failures:
        typer.secho(f"render failed: {reason}", fg="red", err=True)
    typer.echo(f"rendered {pending - len(failures)} announcement(s); play orders issued")


RenderOption = Annotated[bool, typer.Option(
    "--render/--no-render",
    help="render the announcements' audio now (else the server's render worker does)")]


@cli.command("apply")
def apply_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="a schedule YAML file")],
    render_audio: RenderOption = True,
) -> None:
    """Create or update the areas, announcements, playlists and schedules a YAML file describes.

    Idempotent (matched by code and names); the same checks as the API; all or nothing.
    Announcements from a file are authored and approved by the system (see the audit log).
    """
    _apply_file(file, render_audio)


@cli.command("export")
def export_command(
    output: Annotated[Path | None, typer.Option("-o", "--output",
                                                help="file to write (default: stdout)")] = None,
) -> None:
    """Write the current areas, approved announcements, playlists and schedules as YAML."""
    from app.db import session_scope
    from app.migrate import upgrade
    from app.sitefile.apply import dump_yaml, export_schedule_file

    upgrade(_wired_settings().database_url)
    with session_scope() as session:
        text = dump_yaml(export_schedule_file(session))
    if output is None:
        typer.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


@cli.command("demo")
def demo_command(render_audio: RenderOption = True) -> None:
    """Apply the sample district of schedules/demo.yaml with its announcements."""
    if not DEMO_FILE.exists():
        _fail(f"{DEMO_FILE} is missing", 2)
    document = _apply_file(DEMO_FILE, render_audio)
    if document is None or not document.users:
        return
    typer.echo("demo logins (console: /console/; known passwords: disable these users before "
               "real use):")
    for user in document.users:
        typer.echo(f"  {user.role:<9} {user.username} / {user.password}"
                   f"{f'  ({user.name})' if user.name else ''}")


def main() -> None:
    """Entry point of the ``cunxiang`` console script."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(cli())
