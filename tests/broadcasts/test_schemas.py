"""Broadcast request shapes as a client meets them: how a stored file is named."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import District

from .conftest import Stored, broadcast_body

BROADCASTS = "/api/v1/broadcasts"


def test_media_is_named_by_its_sha256_in_either_case(
    client: TestClient, district: District, stored: Stored
) -> None:
    sha = stored.recording()["sha256"]
    shouted = client.post(BROADCASTS, headers=district.admin,
                          json=broadcast_body(targets=["v11"], media=sha.upper()))
    assert shouted.status_code == 201, shouted.text
    assert [m["sha256"] for m in shouted.json()["media"]] == [sha]

    not_hex = client.post(BROADCASTS, headers=district.admin,
                          json=broadcast_body(targets=["v11"], media="G" * 64))
    unknown = client.post(BROADCASTS, headers=district.admin,
                          json=broadcast_body(targets=["v11"], media="A" * 64))
    assert not_hex.status_code == 422 and not_hex.json()["error"] == "validation_error"
    assert unknown.status_code == 422 and unknown.json()["error"] == "unknown_media"
