"""/docs and /redoc render every operation from files the service serves itself (offline)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import SHOTS
from tests.console.offline import OfflineBrowser

pytestmark = pytest.mark.browser


def test_swagger_ui_and_redoc_render_the_operations_with_nothing_fetched_off_the_server(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    guard = OfflineBrowser(page_factory)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 800), (360, 740)):
        docs = guard.open(width, height)
        docs.goto(f"{live_server.url}/docs")
        docs.wait_for_selector(".opblock-summary-path")
        paths = docs.locator(".opblock-summary-path").all_inner_texts()
        assert len(paths) > 50
        assert "/api/v1/broadcasts" in paths and "/api/v1/reports/coverage" in paths
        docs.screenshot(path=str(SHOTS / f"api-docs-{width}.png"))

        # Viewport shots: a full-page one of the whole reference takes seconds.
        redoc = guard.open(width, height)
        redoc.goto(f"{live_server.url}/redoc")
        redoc.wait_for_selector("[data-section-id^='operation/']", state="attached",
                                timeout=30_000)
        sections = redoc.locator("[data-section-id^='operation/']").count()
        assert sections > 50
        assert redoc.locator("h1", has_text="cunxiang").count() >= 1
        redoc.screenshot(path=str(SHOTS / f"api-redoc-{width}.png"))
    guard.assert_offline()


def test_the_guard_fails_a_page_that_reaches_off_the_server(page_factory) -> None:  # type: ignore[no-untyped-def]
    guard = OfflineBrowser(page_factory)
    page = guard.open()
    page.set_content('<img src="https://cdn.example.com/x.png">')
    page.wait_for_timeout(200)  # the image request is routed, and aborted, asynchronously
    with pytest.raises(AssertionError, match="cdn.example.com"):
        guard.assert_offline()


def test_the_docs_pages_name_only_local_assets_and_ship_their_licences(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        assert "http://" not in page.text and "https://" not in page.text, path
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js",
                  "favicon.png"):
        response = client.get(f"/docs/assets/{asset}")
        assert response.status_code == 200 and len(response.content) > 1000, asset
    licence = client.get("/docs/licenses/swagger-ui-LICENSE.txt")
    assert licence.status_code == 200 and "Apache License" in licence.text
    assert "Rebilly" in client.get("/docs/licenses/redoc-LICENSE.txt").text
