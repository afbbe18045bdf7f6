"""The console's browser defences: security headers, CSP nonces, the cookie's flags and
same-origin login and logout forms."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import reset_settings
from tests.conftest import ADMIN_PASSWORD, District
from tests.console.conftest import SAME_ORIGIN, console_login

LOGIN = {"username": "admin", "password": ADMIN_PASSWORD}


def _log_in(client: TestClient, **headers: str) -> Any:
    return client.post("/console/login", data=LOGIN, follow_redirects=False,
                       headers=headers or SAME_ORIGIN)


def test_every_console_answer_carries_the_security_headers(district: District) -> None:
    client = district.client
    assert _log_in(client).status_code == 303
    for path in ("/console/login", "/console/", "/console/schedules", "/console/broadcasts/new",
                 "/console/static/console.js", "/console/announcements/ann_missing"):
        page = client.get(path)
        assert page.status_code in (200, 404), (path, page.status_code)
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "object-src 'none'" in policy, path
        assert re.search(r"script-src 'self' 'nonce-[\w-]{16,}'", policy), policy
        assert "unsafe-inline" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
    assert "content-security-policy" not in client.get("/healthz").headers


def test_inline_scripts_carry_this_answers_nonce(district: District) -> None:
    client = district.client
    _log_in(client)
    first, second = client.get("/console/schedules"), client.get("/console/schedules")
    nonces = []
    for page in (first, second):
        nonce = re.search(r"'nonce-([\w-]+)'", page.headers["content-security-policy"])
        assert nonce is not None
        scripts = re.findall(r"<script([^>]*)>", page.text)
        inline = [s for s in scripts if "src=" not in s]
        assert inline and all(f'nonce="{nonce.group(1)}"' in s for s in inline), inline
        assert " on" not in "".join(re.findall(r"<[^>]+>", page.text)).replace(" only", "")
        nonces.append(nonce.group(1))
    assert nonces[0] != nonces[1]


@pytest.mark.parametrize("headers", [
    {},  # a browser always sends one of the two with a form
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Referer": "https://evil.example/console/login"},
    {"Origin": "http://testserver.evil.example"},
])
def test_login_and_logout_forms_from_elsewhere_are_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    refused = client.post("/console/login", data=LOGIN, follow_redirects=False,
                          headers=headers)
    assert refused.status_code == 403 and "跨站" in refused.text
    assert "set-cookie" not in refused.headers
    assert _log_in(client).status_code == 303
    assert _log_in(client, Referer="http://testserver/console/login").status_code == 303
    kept = client.post("/console/logout", follow_redirects=False,
                       headers=headers)
    assert kept.status_code == 403 and "set-cookie" not in kept.headers
    assert client.get("/console/", follow_redirects=False).status_code == 200
    ended = client.post("/console/logout", follow_redirects=False, headers=SAME_ORIGIN)
    assert ended.status_code == 303
    assert client.get("/console/", follow_redirects=False).status_code == 303


@pytest.fixture
def secure_setting(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Iterator[None]:
    """CUNXIANG_SECURE_COOKIE=true for this test."""
    monkeypatch.setenv("CUNXIANG_SECURE_COOKIE", "true")
    reset_settings()
    yield


def _cookie_flags(response: Any) -> set[str]:
    cookie = response.headers["set-cookie"]
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_the_session_cookie_is_secure_over_https_or_when_set(app: Any) -> None:
    with TestClient(app) as plain:
        flags = _cookie_flags(_log_in(plain))
        assert {"httponly", "samesite"} <= flags and "secure" not in flags
    with TestClient(app, base_url="https://testserver") as tls:
        assert "secure" in _cookie_flags(_log_in(tls, Origin="https://testserver"))


def test_the_setting_makes_the_cookie_secure_behind_a_proxy(secure_setting: None, app: Any) -> None:
    with TestClient(app) as client:
        login = _log_in(client)
        assert "secure" in _cookie_flags(login)
        logout = client.post("/console/logout", follow_redirects=False, headers=SAME_ORIGIN)
        assert "secure" in _cookie_flags(logout)


@pytest.mark.browser
def test_no_page_breaks_the_content_security_policy(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    """Chromium reports every script or style the policy blocks; the pages with inline
    scripts must work as before (the calendar picker here)."""
    import httpx

    http = httpx.Client(base_url=live_server.url, timeout=30)
    token = http.post("/api/v1/auth/token", json=LOGIN).json()["access_token"]
    admin = {"Authorization": f"Bearer {token}"}
    for code, level, parent in [("d1", "district", None), ("t1", "town", "d1"),
                                ("v11", "village", "t1")]:
        assert http.post("/api/v1/areas", headers=admin, json={
            "code": code, "name": code, "level": level, "parent": parent}).status_code == 201
    page = page_factory()
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text)
            if "Content Security Policy" in m.text else None)
    console_login(page, live_server.url, "admin", ADMIN_PASSWORD)
    for path in ("/console/announcements/new", "/console/playlists", "/console/broadcasts/new",
                 "/console/tickets", "/console/speakers", "/console/schedules"):
        page.goto(live_server.url + path)
    page.click("#calendar-form button[type=submit]")
    page.wait_for_url("**/console/villages/v11/calendar")
    assert blocked == []
