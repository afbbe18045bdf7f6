"""Logout ends a login; it never answers 204 for a credential it does not revoke."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import District
from tests.playout.orders import bearer, register


def test_logout_with_an_api_key_or_a_terminal_token_is_refused_and_they_keep_working(
    client: TestClient, district: District
) -> None:
    admin = district.admin
    key = client.post("/api/v1/api-keys", headers=admin,
                      json={"name": "指挥中心", "scopes": ["areas:read"]}).json()["key"]
    terminal = register(client, admin, "v11", "L1")["token"]
    for token, kind in ((key, "API key"), (terminal, "terminal token")):
        refused = client.post("/api/v1/auth/logout", headers=bearer(token))
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "forbidden" and kind in refused.json()["detail"]
    # Nothing was revoked behind the refusal, nor claimed to be.
    assert client.get("/api/v1/areas/v11", headers=bearer(key)).status_code == 200
    beat = {"status": "ok", "power": "mains"}
    assert client.post("/terminal/v1/heartbeat", json=beat,
                       headers=bearer(terminal)).status_code == 200
    # A login's own token is revoked as before.
    assert client.post("/api/v1/auth/logout", headers=admin).status_code == 204
    assert client.get("/api/v1/auth/me", headers=admin).status_code == 401
