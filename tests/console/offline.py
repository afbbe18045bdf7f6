"""A browser guard for offline pages: every request must go to 127.0.0.1, or the test fails.

Each page opened through :class:`OfflineBrowser` routes all its requests through a handler
that lets loopback requests through and aborts (and records) any other, so a page that
would reach a CDN, a font service or a tile server fails its test even when the machine
has no internet to notice it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["OfflineBrowser", "LOCAL_HOSTS"]

LOCAL_HOSTS = {"127.0.0.1"}


class OfflineBrowser:
    """Opens guarded pages from ``page_factory``; :meth:`assert_offline` checks none left."""

    def __init__(self, page_factory: Any) -> None:
        self.page_factory = page_factory
        self.foreign: list[str] = []
        self.pages: list[Any] = []

    def _route(self, route: Any) -> None:
        url = route.request.url
        scheme = urlsplit(url).scheme
        host = urlsplit(url).hostname
        if scheme in ("data", "blob", "about") or host in LOCAL_HOSTS:
            route.continue_()
            return
        self.foreign.append(url)
        route.abort("blockedbyclient")

    def open(self, width: int = 1280, height: int = 800) -> Any:
        """A new page in its own context, every request of which is checked."""
        page = self.page_factory(width=width, height=height)
        page.context.route("**/*", self._route)
        page.on("websocket", lambda ws: self.foreign.append(ws.url)
                if urlsplit(ws.url).hostname not in LOCAL_HOSTS else None)
        self.pages.append(page)
        return page

    def assert_offline(self) -> None:
        """Fail when any page asked for anything off 127.0.0.1."""
        assert not self.foreign, f"requests left 127.0.0.1: {self.foreign}"
