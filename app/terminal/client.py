"""The terminal's HTTP side: the program long-poll, heartbeats, receipts and media downloads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from app import __version__

__all__ = ["ServerClient", "Unreachable", "Refused", "Answer"]


class Unreachable(ConnectionError):
    """The server did not answer (network down, server stopped, or a 5xx)."""


class Refused(RuntimeError):
    """The server answered with a 4xx: ``status`` and its ``detail``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


@dataclass(frozen=True)
class Answer:
    """A JSON answer (None for 304) with the local times the request left and came back."""

    status: int
    body: Any
    sent: datetime
    received: datetime


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:200]


class ServerClient:
    """Calls ``/terminal/v1`` with the terminal's token."""

    def __init__(self, server: str, token: str, *, timeout: float = 15.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.server = server.rstrip("/")
        self.timeout = timeout
        self.http = httpx.AsyncClient(
            base_url=self.server, timeout=timeout, transport=transport,
            headers={"Authorization": f"Bearer {token}",
                     "User-Agent": f"cunxiang-terminal/{__version__}"},
        )
        # Media may come from elsewhere (a mirror): the token is never sent with them.
        self.media_http = httpx.AsyncClient(
            base_url=self.server, timeout=60.0, transport=transport,
            headers={"User-Agent": f"cunxiang-terminal/{__version__}"})

    async def close(self) -> None:
        """Close the connections."""
        await self.http.aclose()
        await self.media_http.aclose()

    async def _call(self, method: str, path: str, *, timeout: float | None = None,
                    **kwargs: Any) -> Answer:
        sent = datetime.now(UTC)
        try:
            response = await self.http.request(method, path, timeout=timeout or self.timeout,
                                               **kwargs)
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
        received = datetime.now(UTC)
        if response.status_code >= 500:
            raise Unreachable(f"server error {response.status_code}")
        if response.status_code >= 400:
            raise Refused(response.status_code, _detail(response))
        body = response.json() if response.status_code == 200 else None
        return Answer(response.status_code, body, sent, received)

    async def program(self, version: int | None, wait: float) -> Answer:
        """The program; with ``version``, waits up to ``wait`` s for a change (304: none)."""
        params: dict[str, Any] = {"wait": wait} if version is not None else {}
        if version is not None:
            params["version"] = version
        return await self._call("GET", "/terminal/v1/program", params=params,
                                timeout=wait + self.timeout)

    async def heartbeat(self, body: dict[str, Any]) -> Answer:
        """Send one heartbeat."""
        return await self._call("POST", "/terminal/v1/heartbeat", json=body)

    async def receipts(self, receipts: list[dict[str, Any]]) -> Answer:
        """Send receipts."""
        return await self._call("POST", "/terminal/v1/receipts", json=receipts)

    async def download(self, url: str) -> AsyncIterator[bytes]:
        """Stream a media file (absolute URL, or relative to the server)."""
        try:
            async with self.media_http.stream("GET", url) as response:
                if response.status_code >= 400:
                    raise Refused(response.status_code, f"GET {url}")
                async for chunk in response.aiter_bytes(1 << 16):
                    yield chunk
        except httpx.HTTPError as exc:
            raise Unreachable(f"{type(exc).__name__}: {exc}") from exc
