"""The door: body limits answer 413 before the body is read, hostile text 422 everywhere.

Run on both databases: a NUL reaching PostgreSQL was a 500 (SQLite stored it).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import reset_settings
from tests.broadcasts.cap_factory import real_cap
from tests.conftest import District, LiveServer


def _invalid(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error" and body["detail"], body
    assert body["fields"][0]["field"] == field, body


def test_a_nul_or_lone_surrogate_is_422_wherever_it_is_sent(district: District) -> None:
    client, admin = district.client, district.admin
    json_type = {"Content-Type": "application/json", **admin}
    # The open login, JSON and the console's form.
    _invalid(client.post("/api/v1/auth/token", json={"username": "a\x00b", "password": "x"}),
             "username")
    _invalid(client.post("/api/v1/auth/token", content=b'{"username": "admin", '
                         b'"password": "\\udfff"}', headers={"Content-Type": "application/json"}),
             "password")
    _invalid(client.post("/console/login", data={"username": "a\x00", "password": "x"}),
             "username")
    # Any JSON body, nested fields and keys included.
    _invalid(client.post("/api/v1/announcements", headers=json_type,
                         content=b'{"title": "t", "body": "\\ud800", "area": "v11"}'), "body")
    _invalid(client.post("/api/v1/crews", headers=admin,
                         json={"name": "c", "towns": ["t1\x00"], "members": []}), "towns.0")
    _invalid(client.post("/api/v1/areas", headers=json_type,
                         content=b'{"code": "v9", "name": "n", "level": "village", '
                                 b'"parent": "t1", "x\\u0000": 1}'), "x\ufffd")
    # Query parameters and path segments.
    _invalid(client.get("/api/v1/areas?parent=t%001", headers=admin), "parent")
    _invalid(client.get("/api/v1/users/ad%00min", headers=admin), "path")
    # A header that reaches the database.
    _invalid(client.post("/api/v1/broadcasts", headers={**admin, "Idempotency-Key": "k\x00"},
                         json={"title": "t", "level": 1, "targets": ["v11"], "text": "测试"}),
             "idempotency-key")
    # Nothing was stored meanwhile.
    codes = [a["code"] for a in client.get("/api/v1/areas", headers=admin).json()["items"]]
    assert "v9" not in codes
    assert client.get("/api/v1/announcements", headers=admin).json()["total"] == 0
    assert client.get("/api/v1/broadcasts", headers=admin).json()["total"] == 0


def test_a_nul_in_a_csv_cell_is_a_line_error(district: District) -> None:
    client, admin = district.client, district.admin
    text = ("code,name,level,parent\nv31,三村,village,t1\nv32,四\x00村,village,t1\n"
            "v33,五村,village,t\x001\n")
    refused = client.post("/api/v1/areas/import", content=text.encode(),
                          headers={**admin, "Content-Type": "text/csv"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "invalid_csv"
    assert [e["line"] for e in refused.json()["errors"]] == [3, 4]
    assert client.get("/api/v1/areas/v31", headers=admin).status_code == 404


@pytest.fixture
def small_json(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[None]:
    """CUNXIANG_MAX_JSON_KB=16 and CUNXIANG_MAX_IMPORT_MB=1 for this test."""
    monkeypatch.setenv("CUNXIANG_MAX_JSON_KB", "16")
    monkeypatch.setenv("CUNXIANG_MAX_IMPORT_MB", "1")
    reset_settings()
    yield


def _too_large(response: Any, setting: str) -> None:
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "payload_too_large"
    assert setting in response.json()["detail"]


def test_bodies_over_their_limit_are_413_declared_or_streamed(
    small_json: None, district: District
) -> None:
    client, admin = district.client, district.admin
    note = {"title": "通知", "area": "v11"}
    fits = client.post("/api/v1/announcements", headers=admin, json={**note, "body": "雨" * 5000})
    assert fits.status_code == 201, fits.text  # 15 KB of UTF-8
    _too_large(client.post("/api/v1/announcements", headers=admin,
                           json={**note, "body": "雨" * 6000}), "CUNXIANG_MAX_JSON_KB")

    def chunks(total: int) -> Iterator[bytes]:
        yield b'{"username": "admin", "password": "'
        for _ in range(total // 4096):
            yield b"x" * 4096
        yield b'"}'

    _too_large(client.post("/api/v1/auth/token", content=chunks(64 * 1024),
                           headers={"Content-Type": "application/json"}), "CUNXIANG_MAX_JSON_KB")
    rows = "".join(f"v{n},村{n},village,t1\n" for n in range(60_000))  # ~1.2 MB
    csv_body = ("code,name,level,parent\n" + rows).encode()
    _too_large(client.post("/api/v1/areas/import", content=csv_body,
                           headers={**admin, "Content-Type": "text/csv"}), "CUNXIANG_MAX_IMPORT_MB")
    _too_large(client.post("/api/v1/areas/import", content=iter([csv_body]),
                           headers={**admin, "Content-Type": "text/csv"}), "CUNXIANG_MAX_IMPORT_MB")
    assert client.get("/api/v1/areas?level=village", headers=admin).json()["total"] == 3
    assert client.get("/api/v1/announcements", headers=admin).json()["total"] == 1


def test_real_cap_documents_of_about_a_megabyte_are_not_refused_for_their_size(
    client: TestClient, admin: dict[str, str]
) -> None:
    for number in ("35", "28"):  # 905 KB (Portugal) and 861 KB (41,009-point polygon)
        document = real_cap(number)
        answered = client.post("/api/v1/broadcasts/cap", content=document,
                               headers={**admin, "Content-Type": "application/cap+xml"})
        assert answered.status_code != 413 and answered.status_code < 500, answered.text


def _raw_exchange(port: int, head: bytes, body: bytes = b"", wait: float = 10) -> bytes:
    """Send a request head (and maybe part of a body) and read what comes back at once."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body)
        answer = b""
        deadline = time.monotonic() + wait
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


@pytest.mark.slow
def test_a_real_server_refuses_before_reading_and_authenticates_uploads_first(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A 200 MB login is answered 413 after its first kilobyte; an upload without a token is
    answered 401 without the server asking for its bytes (no ``100 Continue``)."""
    server = LiveServer(env).start(timeout=90)
    try:
        login = (b"POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n")
        answer = _raw_exchange(server.port, login, b"{" + b" " * 1023)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"payload_too_large" in answer or b"content-length" in answer.lower()
        upload = (b"POST /api/v1/announcements/ann_x/recording HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 1048576\r\nExpect: 100-continue\r\n\r\n")
        answer = _raw_exchange(server.port, upload)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
        csv_import = (b"POST /api/v1/areas/import HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: text/csv\r\nAuthorization: Bearer cxu_forged\r\n"
                      b"Content-Length: 1048576\r\nExpect: 100-continue\r\n\r\n")
        answer = _raw_exchange(server.port, csv_import)
        assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    finally:
        server.stop()
