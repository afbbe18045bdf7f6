"""A real HTTP server on the loopback interface serving feeds and CAP documents (tests only)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Resource:
    """What one path answers: a body with its type, validators, and an optional delay."""

    body: bytes
    content_type: str = "application/xml"
    delay: float = 0.0
    last_modified: str | None = "Tue, 01 Dec 2026 00:00:00 GMT"

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


@dataclass
class FeedServer:
    """``resources`` by path; ``requests`` records (path, headers) of every GET."""

    resources: dict[str, Resource] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FeedServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                owner.requests.append((self.path, dict(self.headers.items())))
                resource = owner.resources.get(self.path)
                if resource is None:
                    self.send_error(404)
                    return
                if resource.delay:
                    time.sleep(resource.delay)
                if self.headers.get("If-None-Match") == resource.etag:
                    self.send_response(304)
                    self.send_header("ETag", resource.etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", resource.content_type)
                self.send_header("Content-Length", str(len(resource.body)))
                self.send_header("ETag", resource.etag)
                if resource.last_modified:
                    self.send_header("Last-Modified", resource.last_modified)
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(resource.body)  # (the client may have given up)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]
