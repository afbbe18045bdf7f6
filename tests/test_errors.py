"""The one error handler: whatever fails, the client gets ``{"error", "detail"}`` and no 500
for a value the database refuses."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError


def test_a_value_the_database_refuses_is_422_not_500(app: Any) -> None:
    """The safety net behind the schemas: a value too long or out of range for its column."""

    @app.get("/test-only/too-long")
    def too_long() -> None:
        raise DataError("INSERT …", {}, Exception("value too long for type character "
                                                  "varying(64)\nDETAIL: …"))

    with TestClient(app) as client:
        answer = client.get("/test-only/too-long")
    assert answer.status_code == 422
    assert answer.json() == {"error": "validation_error",
                             "detail": "a value does not fit: value too long for type "
                                       "character varying(64)"}
