"""The application as a whole: open routes, 401 everywhere else, error shape, operations routes."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

OPEN = {
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/api/v1/auth/token"),
    ("GET", "/media/{sha256}"),
    ("HEAD", "/media/{sha256}"),
}


def _api_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every (method, path) the app publishes in its OpenAPI schema."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_route_but_the_open_ones_needs_a_token(app, client: TestClient) -> None:
    routes = [r for r in _api_routes(app) if r not in OPEN and not r[1].startswith("/console")]
    assert len(routes) >= 15  # the enumeration found the app's routes
    for method, path in routes:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        response = client.request(method, concrete)
        assert response.status_code == 401, (method, path, response.status_code, response.text)
        body = response.json()
        assert body["error"] == "unauthorized" and body["detail"]


def test_a_garbage_token_is_401_and_open_routes_answer(client: TestClient) -> None:
    bad = {"Authorization": "Bearer cxk_not-a-key"}
    assert client.get("/api/v1/areas", headers=bad).status_code == 401
    assert client.get("/api/v1/areas", headers={"Authorization": "Basic abc"}).status_code == 401
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"].startswith("cunxiang")


def test_metrics_count_requests_by_route_template(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    client.get("/api/v1/areas/nowhere", headers=admin)
    text = client.get("/metrics").text
    assert ('cunxiang_http_requests_total{method="GET",route="/api/v1/areas/{code}",'
            'status="404"}') in text
    assert "cunxiang_http_request_duration_seconds_bucket" in text
    for name in ("cunxiang_terminals_online", "cunxiang_orders_issued_total",
                 "cunxiang_broadcast_fanout_seconds", "cunxiang_render_seconds",
                 "cunxiang_tickets_open"):
        assert name in text


def test_bad_input_gets_the_error_shape_never_500(client: TestClient, admin) -> None:  # type: ignore[no-untyped-def]
    cases = [
        client.post("/api/v1/areas", content=b"{not json",
                    headers={**admin, "Content-Type": "application/json"}),
        client.post("/api/v1/areas", json=[1, 2], headers=admin),
        client.post("/api/v1/areas", json={"code": "x" * 100, "name": "n", "level": "village"},
                    headers=admin),
        client.post("/api/v1/areas", json={"code": "a", "name": "n", "level": "county"},
                    headers=admin),
        client.get("/api/v1/areas?limit=5000", headers=admin),
        client.get("/api/v1/audit?from=yesterday", headers=admin),
        client.post("/api/v1/users", json={"username": "u", "password": "p"}, headers=admin),
        client.post("/api/v1/auth/token", content=b"\xff\xfe",
                    headers={"Content-Type": "application/json"}),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        body = response.json()
        assert set(body) >= {"error", "detail"}, body
    assert cases[0].json()["error"] == "validation_error"
    assert any(f["field"] == "limit" for f in cases[4].json()["fields"])
    assert client.get("/no/such/path").json() == {"error": "not_found", "detail": "Not Found"}


def test_a_change_is_visible_to_the_next_request(live_server) -> None:  # type: ignore[no-untyped-def]
    """Read-after-write through a real server: each answer arrives only after its commit."""
    import httpx

    from tests.conftest import ADMIN_PASSWORD

    with httpx.Client(base_url=live_server.url, timeout=10) as writer, \
            httpx.Client(base_url=live_server.url, timeout=10) as reader:
        token = writer.post("/api/v1/auth/token",
                            json={"username": "admin", "password": ADMIN_PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        for i in range(15):
            code = f"d{i}"
            created = writer.post("/api/v1/areas", headers=headers,
                                  json={"code": code, "name": "区", "level": "district"})
            assert created.status_code == 201
            assert reader.get(f"/api/v1/areas/{code}", headers=headers).status_code == 200
            writer.patch(f"/api/v1/areas/{code}", json={"name": f"新区{i}"}, headers=headers)
            assert reader.get(f"/api/v1/areas/{code}", headers=headers).json()["name"] == f"新区{i}"


def test_a_database_that_is_away_or_out_of_connections_is_503(  # type: ignore[no-untyped-def]
    client: TestClient, admin, monkeypatch
) -> None:
    """Busy, unreachable or out of pooled connections: 503 with Retry-After, never a 500."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from app.auth import deps

    for failure in (OperationalError("SELECT 1", {}, Exception("database is locked")),
                    InterfaceError("SELECT 1", {}, Exception("connection already closed")),
                    PoolTimeout("QueuePool limit of size 5 overflow 10 reached")):
        def unavailable(*_: object, failure: Exception = failure, **__: object) -> None:
            raise failure

        monkeypatch.setattr(deps, "resolve_token", unavailable)
        answer = client.get("/api/v1/areas", headers=admin)
        assert answer.status_code == 503, (type(failure).__name__, answer.text)
        assert answer.json()["error"] == "unavailable" and answer.headers["retry-after"] == "1"
