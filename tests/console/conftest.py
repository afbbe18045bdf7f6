"""Browser fixtures: Debian's Chromium driven by Playwright, screenshots saved as artefacts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT

SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without these, Chromium keeps trying to reach Google's services on a closed network.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module.

    Not per session: Playwright's sync API keeps an event loop running in the main thread
    while it is open, and later tests that call ``asyncio.run`` would fail.
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield instance
        instance.close()


LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})


def guard_requests(context: Any) -> list[str]:
    """Route every request of a browser context: those to any host but 127.0.0.1/localhost are
    refused and listed (the console must fetch nothing from the internet)."""
    outside: list[str] = []

    def check(route: Any) -> None:
        url = route.request.url
        if urlsplit(url).scheme in ("data", "blob") or urlsplit(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(url)
            route.abort("blockedbyclient")

    context.route("**/*", check)
    return outside


@pytest.fixture
def page_factory(browser: Any) -> Iterator[Any]:
    """Open new pages (desktop by default, ``width=360`` for a phone), closed after the test.

    Every request is checked: the test fails if any went to a host other than 127.0.0.1.
    """
    contexts: list[Any] = []
    outside: list[list[str]] = []

    def open_page(width: int = 1280, height: int = 800) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height},
                                      locale="zh-CN", timezone_id="Asia/Shanghai")
        contexts.append(context)
        outside.append(guard_requests(context))
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield open_page
    for context in contexts:
        context.close()
    left = [url for urls in outside for url in urls]
    if left:
        pytest.fail(f"requests left 127.0.0.1: {left[:10]}")


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under tests/artifacts/screenshots/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def console_login(page: Any, base_url: str, username: str, password: str) -> None:
    """Log in through the console's login form."""
    page.goto(f"{base_url}/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/console/")


# What a browser sends with the console's own login and logout forms (the TestClient's host).
SAME_ORIGIN = {"Origin": "http://testserver"}
