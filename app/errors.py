"""One error hierarchy for the service and the one handler that turns it into HTTP."""

from __future__ import annotations

import errno
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    InternalError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.storage.store import MediaStoreUnavailable

__all__ = [
    "AppError",
    "NotFound",
    "Conflict",
    "Unauthorized",
    "Forbidden",
    "InvalidInput",
    "TooManyRequests",
    "StorageFull",
    "storage_full",
    "PayloadTooLarge",
    "UnsupportedMedia",
    "BadRequest",
    "install_error_handlers",
    "app_error_response",
    "unavailable_response",
    "DATABASE_UNAVAILABLE",
]

log = logging.getLogger(__name__)


class AppError(Exception):
    """A failure a client can act on: an HTTP status, a machine code and a human message."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, status: int | None = None, **extra: Any
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"error", "detail"}`` plus any extra fields."""
        return {"error": self.code, "detail": self.message, **self.extra}


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class UnsupportedMedia(AppError):
    status, code = 415, "unsupported_media_type"


class InvalidInput(AppError):
    status, code = 422, "invalid"


class StorageFull(AppError):
    """The disk holding the media (or a temporary file) is full: nothing was stored."""

    status, code = 507, "storage_full"


def storage_full(exc: OSError) -> StorageFull | None:
    """The client's view of a write that failed for want of space (None for other errors)."""
    if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
        return None
    where = f" writing {exc.filename}" if getattr(exc, "filename", None) else ""
    return StorageFull(f"the storage is full ({exc.strerror}{where}): nothing was stored; "
                       "free some space and retry")


class TooManyRequests(AppError):
    status, code = 429, "too_many_requests"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "invalid",
    429: "too_many_requests",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or str(loc[0] if loc else "body")


def _validation_body(exc: RequestValidationError) -> dict[str, Any]:
    fields = [
        {"field": _field_name(tuple(err.get("loc", ()))), "detail": err.get("msg", "invalid")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{f['field']}: {f['detail']}" for f in fields[:5])
    return {"error": "validation_error", "detail": summary or "invalid request", "fields": fields}


PageRenderer = Callable[[Request, AppError], Response | None]


def app_error_response(exc: AppError) -> JSONResponse:
    """The JSON answer to an :class:`AppError` (with the headers its status calls for)."""
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if "retry_after" in exc.extra:  # the body says it; HTTP clients read the header
        headers["Retry-After"] = str(exc.extra["retry_after"])
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers or None)


# The database is busy, away or out of connections: nothing was done, the client retries.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)


def unavailable_response(path: str, exc: Exception) -> JSONResponse:
    """503 for a database that is busy or away: the client retries, nothing was done."""
    log.error("database unavailable on %s: %s", path, getattr(exc, "orig", None) or exc)
    return JSONResponse(
        {"error": "unavailable", "detail": "the database is busy or unreachable; retry"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def install_error_handlers(app: FastAPI, page_errors: PageRenderer | None = None) -> None:
    """Map every failure to ``{"error", "detail"}``; nothing a client sends may yield a 500.

    ``page_errors`` may answer with an HTML page instead (the console's own routes).
    """

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        page = page_errors(request, exc) if page_errors else None
        return page if page is not None else app_error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(_validation_body(exc), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            {"error": code, "detail": detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        # A race past our own checks (two requests creating the same thing at once).
        log.info("integrity error on %s: %s", request.url.path, exc.orig)
        return JSONResponse(
            {"error": "conflict", "detail": "the change conflicts with existing data"},
            status_code=409,
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses (too long, out of range) that no schema stopped: the
        # schema should have; say so in the log, answer as the schema would have.
        log.warning("the database refused a value on %s: %s", request.url.path, exc.orig)
        return JSONResponse(
            {"error": "validation_error",
             "detail": f"a value does not fit: {str(exc.orig).splitlines()[0]}"},
            status_code=422,
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        return unavailable_response(request.url.path, exc)

    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(OSError)
    async def _os_error(request: Request, exc: OSError) -> Response:
        full = storage_full(exc)
        if full is None:
            return await _unexpected(request, exc)
        log.error("storage full on %s: %s", request.url.path, exc)
        return await _app_error(request, full)

    @app.exception_handler(InternalError)
    async def _internal(request: Request, exc: InternalError) -> JSONResponse:
        if getattr(exc.orig, "sqlstate", None) == "25006":  # a read-only PostgreSQL
            log.error("database read-only on %s: %s", request.url.path, exc.orig)
            return JSONResponse(
                {"error": "read_only", "detail": "the database accepts no writes now (read-only); "
                 "nothing was changed; retry later"},
                status_code=503, headers={"Retry-After": "5"},
            )
        return await _unexpected(request, exc)

    @app.exception_handler(MediaStoreUnavailable)
    async def _media_unavailable(request: Request, exc: MediaStoreUnavailable) -> JSONResponse:
        log.error("media store unavailable on %s: %s", request.url.path, exc.message)
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status,
                            headers={"Retry-After": "2"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"error": "internal_error", "detail": "an unexpected error occurred; it was logged"},
            status_code=500,
        )
