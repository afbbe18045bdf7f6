"""Paging parameters: every list refuses an offset past what a database can take, with 422."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def _list_paths(app: Any) -> list[str]:
    """Every GET operation that takes ``offset``, its path parameters filled in."""
    paths = []
    for path, operations in app.openapi()["paths"].items():
        get = operations.get("get")
        if get and any(p["name"] == "offset" for p in get.get("parameters", [])):
            paths.append(path.replace("{", "").replace("}", ""))
    return paths


def test_an_offset_past_a_64_bit_integer_is_422_on_every_list(
    app: Any, client: TestClient, admin: dict[str, str], district: Any
) -> None:
    paths = _list_paths(app)
    assert len(paths) >= 14, paths
    for path in paths:
        huge = client.get(f"{path}?offset=9223372036854775808", headers=admin)
        assert huge.status_code == 422, (path, huge.text)
        assert huge.json()["error"] == "validation_error" and huge.json()["fields"][0][
            "field"] == "offset", (path, huge.text)
    areas = client.get("/api/v1/areas?offset=1000000000", headers=admin)
    assert areas.status_code == 200 and areas.json() == {"items": [], "total": 6}
