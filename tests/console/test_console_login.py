"""The console's login, session and refusals, in a real browser and over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import console_login, screenshot

pytestmark = pytest.mark.browser


def test_login_shows_the_dashboard_and_a_wrong_password_an_error(live_server, page_factory) -> None:  # type: ignore[no-untyped-def]
    page = page_factory()
    page.goto(f"{live_server.url}/console/")
    assert "/console/login" in page.url
    page.fill("#username", "admin")
    page.fill("#password", "wrong-password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text(".flash.error")
    screenshot(page, "login-error")
    console_login(page, live_server.url, "admin", ADMIN_PASSWORD)
    assert page.inner_text("h1") == "工作台"
    screenshot(page, "dashboard")
    page.click("text=退出")
    page.wait_for_url("**/console/login")
    page.goto(f"{live_server.url}/console/")
    assert "/console/login" in page.url


def test_console_cookie_alone_does_not_authorise_api_writes(client: TestClient) -> None:
    client.post("/console/login", data={"username": "admin", "password": ADMIN_PASSWORD})
    body = {"code": "dx", "name": "区", "level": "district"}
    assert client.post("/api/v1/areas", json=body).status_code == 401  # no console header: CSRF
    assert client.post("/api/v1/areas", json=body,
                       headers={"X-Cunxiang-Console": "1"}).status_code == 201


def test_open_redirects_after_login_are_refused(client: TestClient) -> None:
    response = client.post("/console/login", follow_redirects=False,
                           data={"username": "admin", "password": ADMIN_PASSWORD,
                                 "next": "https://evil.example/"})
    assert response.headers["location"] == "/console/"
