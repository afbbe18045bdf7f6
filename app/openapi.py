"""The OpenAPI document says what the server answers: every error in its ``{error, detail}`` shape.

FastAPI documents a 422 in its own default shape (``{"detail": [...]}``) and no other error.
This service answers every error as ``{"error", "detail"}`` (validation errors add
``fields``, a CSV import ``errors``, a schedule conflict ``conflicts``), and the door
(:mod:`app.guard`), authentication and the database can refuse any operation. The
document is rewritten once, when first asked for, so that a client generated from
``/openapi.json`` expects exactly what comes back.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["install_openapi", "document_errors", "ErrorBody", "FieldError"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF = "#/components/schemas/ErrorBody"


class FieldError(BaseModel):
    """One invalid field of a request."""

    field: str
    detail: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer: a machine code and a human sentence, and for some more."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="machine code, e.g. `validation_error`, `not_found`")
    detail: str = Field(description="what went wrong, for a person")
    fields: list[FieldError] | None = Field(
        default=None, description="validation errors: each invalid field")


_WHY = {
    "400": "The request cannot be understood (malformed XML, a body that is not what it "
           "says, a broken multipart upload)",
    "401": "Missing, invalid, expired or revoked credentials",
    "403": "Valid credentials outside the caller's role, scopes or area",
    "404": "Nothing with this id or code, in the path or named in the query or body",
    "409": "The change conflicts with the current state",
    "413": "The body is larger than its limit (README: Limits and refusals)",
    "415": "The body is not of a media type this operation reads",
    "416": "The requested range is outside the file",
    "422": "Invalid input: `fields` names each invalid field (also for a NUL or a lone "
           "surrogate anywhere in the request)",
    "429": "Too many failed logins; `Retry-After` says when to try again",
    "503": "The database is busy or unreachable; nothing was done, retry after "
           "`Retry-After` seconds",
}


# Operations that answer without the database (and /readyz, whose 503 says what is down).
_NO_DATABASE = {"/healthz", "/metrics", "/readyz"}
_READINESS = {
    "description": "Not ready: a check failed",
    "content": {"application/json": {"schema": {
        "type": "object", "required": ["status", "checks"],
        "properties": {"status": {"type": "string", "enum": ["not_ready"]},
                       "checks": {"type": "object",
                                  "additionalProperties": {"type": "string"}}}}}},
}


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation can answer besides those it documents itself."""
    statuses = ["422"] if path in _NO_DATABASE else ["422", "503"]
    if operation.get("security"):
        statuses += ["401", "403"]
    if path not in _NO_DATABASE:  # an id in the path, or an area or id named in query or body
        statuses.append("404")
    if method in ("post", "put", "patch", "delete"):
        statuses += ["400", "409", "413"]
    if path == "/api/v1/auth/token":  # open, but a wrong password is 401
        statuses += ["401", "429"]
    return statuses


def _error_response(existing: dict[str, Any] | None, status: str) -> dict[str, Any]:
    content = (existing or {}).get("content")
    if content and "HTTPValidationError" not in str(content):  # the route's own, it knows best
        return existing  # type: ignore[return-value]
    description = (existing or {}).get("description") or _WHY[status]
    if description in ("Validation Error", "Successful Response"):
        description = _WHY[status]
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": _REF}}}}


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Give every operation its error answers, each as :class:`ErrorBody` (in place)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (FieldError, ErrorBody):
        components[model.__name__] = model.model_json_schema(
            ref_template="#/components/schemas/{model}")
        components[model.__name__].pop("$defs", None)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status in _statuses(path, method, operation):
                responses[status] = _error_response(responses.get(status), status)
            for status, answer in responses.items():  # errors the routes listed themselves
                if status[0] in "45" and status in _WHY:
                    responses[status] = _error_response(answer, status)
            if path == "/readyz":
                responses["503"] = _READINESS
            operation["responses"] = dict(sorted(responses.items()))
    return schema


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document at ``/openapi.json`` (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
