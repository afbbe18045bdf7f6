"""The application factory: routers, error handlers, metrics and the lifespan of background work."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response

from app import __version__
from app.announcements.router import router as announcements_router
from app.apidocs import install_api_docs
from app.areas.router import router as areas_router
from app.audit.router import router as audit_router
from app.broadcasts.receipt_router import router as broadcast_receipt_router
from app.broadcasts.router import router as broadcasts_router
from app.config import get_settings
from app.console.pages_admin import router as console_admin_router
from app.console.pages_content import router as console_content_router
from app.console.pages_edit import router as console_edit_router
from app.console.pages_feeds import router as console_feeds_router
from app.console.pages_map import router as console_map_router
from app.console.pages_ops import router as console_ops_router
from app.console.pages_powercuts import router as console_power_cuts_router
from app.console.pages_pronunciations import router as console_pronunciations_router
from app.console.pages_reports import router as console_reports_router
from app.console.router import console_error_page, static_files
from app.console.router import router as console_router
from app.console.security import ConsoleSecurityHeaders
from app.daytypes.router import router as day_types_router
from app.db import get_engine, session_scope
from app.errors import install_error_handlers
from app.feeds.router import router as feeds_router
from app.guard import RequestGuard
from app.maintenance.history_router import router as history_router
from app.maintenance.powercut_router import router as power_cuts_router
from app.maintenance.router import router as maintenance_router
from app.media.router import router as media_router
from app.media.service import media_store
from app.metrics import TimingMiddleware, metrics_response
from app.openapi import install_openapi
from app.playlists.router import router as playlists_router
from app.playout.fastpath import TerminalFastPath
from app.playout.playlog_router import router as playlog_router
from app.playout.terminal_router import router as terminal_router
from app.playout.terminal_router import terminal_runtime
from app.pronunciations.router import router as pronunciations_router
from app.readiness import database_state
from app.runtime.chunked import UrgentFirst
from app.runtime.scheduler import SchedulerRuntime
from app.schedules.router import router as schedules_router
from app.speakers.router import router as speakers_router
from app.storage.store import MediaStoreUnavailable
from app.users.router import router as users_router
from app.users.service import ensure_admin
from app.wiring import build_services, wire

__all__ = ["create_app", "ROUTERS"]

ROUTERS = [users_router, areas_router, audit_router, console_router, console_content_router,
           console_ops_router, console_edit_router, console_admin_router,
           announcements_router,
           playlists_router, media_router, schedules_router, speakers_router,
           terminal_router, playlog_router, broadcasts_router, maintenance_router,
           history_router, console_reports_router, console_map_router,
           broadcast_receipt_router, day_types_router, power_cuts_router,
           console_power_cuts_router, feeds_router, console_feeds_router,
           pronunciations_router, console_pronunciations_router]


def _bootstrap_admin() -> None:
    settings = get_settings()
    with session_scope() as session:
        generated = ensure_admin(session=session, password=settings.admin_password)
    if generated:
        # Printed once, on purpose: a newcomer must be able to log in the first time.
        print(f"\n  cunxiang: created user 'admin' with password: {generated}\n"
              "  (shown once; change it with PATCH /api/v1/users/admin)\n", flush=True)


# What the routes (and tests) use of the running services, published on app.state:
# (attribute, the service's name in app.wiring.build_services, what of it).
_PUBLISHED = [
    ("render_worker", "render worker", lambda service: service),
    ("scheduler", "scheduler", lambda service: service),
    ("program_notifier", "program notifier", lambda service: service.notifier),
    ("deliveries", "deliveries", lambda service: service.deliveries),
    ("heartbeats", "heartbeats", lambda service: service.buffer),
]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    _bootstrap_admin()
    services = build_services(get_settings(), terminals=terminal_runtime(app))
    await services.start()
    try:
        for attribute, name, part in _PUBLISHED:
            with suppress(KeyError):  # not running here (the scheduler, when turned off)
                setattr(app.state, attribute, part(services[name]))
        yield
    finally:
        await services.stop()
        # The notifier, the delivery log and the heartbeat buffer stay: a request still
        # running when the server stops finishes with them.
        app.state.render_worker = app.state.scheduler = None


def _media_check() -> str | None:
    """The shared object store's answer ("ok" or why not); None for media on local disk."""
    check = getattr(media_store(), "check", None)
    if check is None:
        return None
    try:
        check()
    except MediaStoreUnavailable as exc:
        return f"unreachable: {exc.message}"
    return "ok"


def _add_operations_routes(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["operations"])
    def readyz() -> JSONResponse:
        """The database takes writes (reachable, writable, not locked), the shared media store
        answers (when there is one) and the scheduler runs."""
        checks: dict[str, str] = {"database": database_state(get_engine())}
        media = _media_check()
        if media is not None:
            checks["media"] = media
        scheduler: SchedulerRuntime | None = getattr(app.state, "scheduler", None)
        if scheduler is not None:
            checks["scheduler"] = "ok" if scheduler.running() else "stopped"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not_ready", "checks": checks},
                            status_code=200 if ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics."""
        return metrics_response()


def create_app() -> FastAPI:
    """Build the FastAPI application with every router and handler."""
    get_settings()  # refuse to start on invalid configuration
    wire()
    app = FastAPI(
        title="cunxiang (村响)",
        version=__version__,
        description="Village emergency-broadcast scheduling: announcements, schedules, "
        "urgent broadcasts, terminals and maintenance.",
        lifespan=_lifespan,
        docs_url=None,  # served from the package by install_api_docs: no CDN
        redoc_url=None,
    )
    install_error_handlers(app, page_errors=console_error_page)
    app.add_middleware(ConsoleSecurityHeaders)
    app.add_middleware(UrgentFirst)  # long writes of this process wait for urgent broadcasts
    app.add_middleware(TerminalFastPath)  # inside the timing: its answers are counted too
    app.add_middleware(RequestGuard)  # in front of the fast path: the same door for both
    app.add_middleware(TimingMiddleware)
    _add_operations_routes(app)
    for router in ROUTERS:
        # Add the routers' own routes (their prefixes are set where they are built) rather than
        # include_router: FastAPI 0.16x rebuilds included routes' context on every request,
        # about a third of the cost of a terminal's heartbeat or long-poll.
        app.router.routes.extend(router.routes)
    app.mount("/console/static", static_files, name="console-static")
    install_api_docs(app)
    install_openapi(app)
    return app
