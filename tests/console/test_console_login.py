"""The console's login, session and refusals, in a real browser and over HTTP."""

from __future__ import annotations

import pytest
import time_machine
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import SAME_ORIGIN, console_login, screenshot

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
    client.post("/console/login", headers=SAME_ORIGIN,
                data={"username": "admin", "password": ADMIN_PASSWORD})
    body = {"code": "dx", "name": "区", "level": "district"}
    assert client.post("/api/v1/areas", json=body).status_code == 401  # no console header: CSRF
    assert client.post("/api/v1/areas", json=body,
                       headers={"X-Cunxiang-Console": "1"}).status_code == 201


def test_open_redirects_after_login_are_refused(client: TestClient) -> None:
    response = client.post("/console/login", headers=SAME_ORIGIN, follow_redirects=False,
                           data={"username": "admin", "password": ADMIN_PASSWORD,
                                 "next": "https://evil.example/"})
    assert response.headers["location"] == "/console/"


def test_a_throttled_console_login_answers_429_with_retry_after(client: TestClient) -> None:
    with time_machine.travel("2026-03-01 08:00:00+00:00", tick=False) as traveller:
        for _ in range(10):
            wrong = client.post("/console/login", headers=SAME_ORIGIN,
                                data={"username": "admin", "password": "x"})
            assert wrong.status_code == 200 and "用户名或密码错误" in wrong.text
        blocked = client.post("/console/login", headers=SAME_ORIGIN, follow_redirects=False,
                              data={"username": "admin", "password": ADMIN_PASSWORD})
        assert blocked.status_code == 429
        assert 1 <= int(blocked.headers["Retry-After"]) <= 301
        assert blocked.headers["content-type"].startswith("text/html")
        assert "登录失败次数过多" in blocked.text and 'name="password"' in blocked.text
        traveller.shift(301)
        allowed = client.post("/console/login", headers=SAME_ORIGIN, follow_redirects=False,
                              data={"username": "admin", "password": ADMIN_PASSWORD})
        assert allowed.status_code == 303
