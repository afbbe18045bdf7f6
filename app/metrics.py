"""Prometheus metrics of SPEC §10, in one registry, and the request-timing middleware."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "REGISTRY",
    "install_collectors",
    "http_requests",
    "http_duration",
    "terminals_online",
    "orders_issued",
    "broadcast_fanout",
    "render_seconds",
    "tickets_open",
    "heartbeats_dropped",
    "metrics_response",
    "TimingMiddleware",
]

REGISTRY = CollectorRegistry(auto_describe=True)

http_requests = Counter(
    "cunxiang_http_requests_total", "HTTP requests answered",
    ["method", "route", "status"], registry=REGISTRY,
)
http_duration = Histogram(
    "cunxiang_http_request_duration_seconds", "Time to answer an HTTP request",
    ["method", "route"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
terminals_online = Gauge(
    "cunxiang_terminals_online", "Terminals heard within the heartbeat timeout", registry=REGISTRY
)
orders_issued = Counter(
    "cunxiang_orders_issued_total", "Play orders issued to villages", ["kind"], registry=REGISTRY
)
broadcast_fanout = Histogram(
    "cunxiang_broadcast_fanout_seconds", "Time to issue an urgent broadcast to all its villages",
    registry=REGISTRY, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
render_seconds = Histogram(
    "cunxiang_render_seconds", "Time to render an announcement to audio", registry=REGISTRY,
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
tickets_open = Gauge(
    "cunxiang_tickets_open", "Maintenance tickets not yet closed", registry=REGISTRY
)

heartbeats_dropped = Counter(
    "cunxiang_heartbeats_dropped_total",
    "Heartbeats the database refused to store, dropped so that the rest of their batch is kept",
    registry=REGISTRY,
)


# Collectors read at every scrape (installed at start-up by app.wiring), each registered once.
_installed: list[Collector] = []


def install_collectors(collectors: Iterable[Collector]) -> None:
    """Add ``collectors`` to ``/metrics`` (each once, however often this is called)."""
    for collector in collectors:
        if collector not in _installed:
            REGISTRY.register(collector)
            _installed.append(collector)


def metrics_response() -> Response:
    """The registry in Prometheus text format."""
    return Response(generate_latest(REGISTRY), media_type="text/plain; version=0.0.4")


class TimingMiddleware:
    """Count and time every HTTP request by its route template (not the raw path).

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` costs several times more per
    request, which matters for the heartbeat path.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, answered = 500, False

        async def send_and_note(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
            if status == 500 and not answered:
                status = 499  # returned without answering: the client had gone (nginx's code)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched") if route is not None else "unmatched"
            method = scope.get("method", "GET")
            http_requests.labels(method, template, str(status)).inc()
            http_duration.labels(method, template).observe(time.perf_counter() - started)
