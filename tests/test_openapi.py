"""The OpenAPI document lists the errors the server answers, in the shape it answers them."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

ERROR = {"$ref": "#/components/schemas/ErrorBody"}


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in document["paths"].items()
            for method, op in item.items()]


def test_every_error_is_documented_in_the_services_shape(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in str(document)
    error = document["components"]["schemas"]["ErrorBody"]
    assert error["required"] == ["error", "detail"] and "fields" in error["properties"]
    for path, method, op in _operations(document):
        responses = op["responses"]
        expected = {"422"}
        if op.get("security"):
            expected |= {"401", "403"}
        if path not in ("/healthz", "/readyz", "/metrics"):
            expected.add("404")
        if method in ("post", "patch", "delete"):
            expected |= {"409", "413"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, answer in responses.items():
            if status[0] in "45" and path != "/readyz":
                assert answer["content"]["application/json"]["schema"] == ERROR, (path, status)
    login = document["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert {"401", "429"} <= set(login)


def test_what_is_documented_is_what_comes_back(client: TestClient, admin: dict) -> None:
    """A 422 of the routes, of the door and an AppError all fit the documented ErrorBody."""
    import jsonschema_rs  # schemathesis' validator

    document = client.get("/openapi.json").json()
    schema = {"$ref": "#/components/schemas/ErrorBody", "components": document["components"]}
    answers = [
        client.post("/api/v1/areas", json={"code": 1}, headers=admin),
        client.get("/api/v1/areas?parent=%00", headers=admin),
        client.get("/api/v1/areas/nowhere", headers=admin),
        client.post("/api/v1/auth/token", json={"username": "admin", "password": "wrong"}),
    ]
    assert [a.status_code for a in answers] == [422, 422, 404, 401]
    for answer in answers:
        jsonschema_rs.validate(schema, answer.json())
    with pytest.raises(ValueError):  # FastAPI's own shape, once documented, is not ours
        jsonschema_rs.validate(schema, {"detail": [{"loc": ["body"], "msg": "x"}]})
    assert answers[0].json()["fields"][0]["field"] in ("code", "name", "level")
