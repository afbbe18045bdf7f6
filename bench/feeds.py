"""Benchmark: one poll of a CMA-sized feed (500 linked CAP alerts), against reading them bare.

Run from the project root: ``.venv/bin/python bench/feeds.py``.

A local HTTP server serves an Atom feed of ``ITEMS`` entries, each linking a CMA-shaped CAP
document (an English and a Chinese ``<info>``, CPEAS geocodes) of about ``PAD_KB`` KiB. The
feed's area holds none of their counties, so every alert is read, matched and recorded as
``outside`` (no speech is synthesised: the figure is the poller's own cost).

Printed: the first poll (fetch, parse, match, record 500 items), the baseline — fetching the
same 500 documents with one httpx client and ``parse_cap`` on each, no database — and their
ratio; then a second poll (the server answers 304) and a third with new entry ids for the
same alerts (fetched again, recognised as duplicates).
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from _live import ROOT, scratch_env

sys.path.insert(0, str(ROOT))

ITEMS = 500
PAD_KB = 8


def cap_document(number: int, sent: datetime) -> bytes:
    """A CMA-shaped alert for a county this benchmark's area does not hold."""
    pad = "暴雨" * (PAD_KB * 1024 // 6)
    infos = "".join(f"""<info><language>{lang}</language><category>Met</category>
<event>Rainstorm</event><urgency>Expected</urgency><severity>Moderate</severity>
<certainty>Likely</certainty><expires>{(sent + timedelta(days=1)).isoformat()}</expires>
<headline>warning {number}</headline><description>{pad}</description>
<area><areaDesc>county</areaDesc><geocode><valueName>CPEAS Geographic Code</valueName>
<value>{440000 + number:06d}000000</value></geocode></area></info>""" for lang in ("en-US",
                                                                                 "zh-CN"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>44{number:012d}_{sent:%Y%m%d%H%M%S}
</identifier><sender>Bench_Meteorological_Observatory</sender><sent>{sent.isoformat()}</sent>
<status>Actual</status><msgType>Alert</msgType><scope>Public</scope>{infos}</alert>""".replace(
        "\n</identifier>", "</identifier>").encode()


def atom(prefix: str) -> bytes:
    entries = "".join(f'<entry><id>{prefix}:{i}</id><updated>2026-12-01T00:00:00Z</updated>'
                      f'<link type="application/cap+xml" href="/cap/{i}.xml"/></entry>'
                      for i in range(ITEMS))
    return (f'<feed xmlns="http://www.w3.org/2005/Atom"><id>bench</id>{entries}</feed>').encode()


def serve(resources: dict[str, bytes]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = resources.get(self.path)
            if body is None:
                self.send_error(404)
                return
            tag = f'"{hash(body) & 0xFFFFFFFF:x}"'
            if self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", tag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def baseline(url: str) -> float:
    from app.broadcasts.cap import parse_cap

    started = time.perf_counter()
    with httpx.Client() as client:
        for i in range(ITEMS):
            parse_cap(client.get(f"{url}/cap/{i}.xml").content, max_bytes=2 * 1024 * 1024)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="cx-bench-feeds-") as tmp:
        scratch_env(Path(tmp))
        from app.auth.permissions import SYSTEM
        from app.db import session_scope
        from app.feeds.poller import poll_feed
        from app.feeds.schemas import FeedCreate
        from app.feeds.service import create_feed

        sent = datetime.now(UTC).replace(microsecond=0)
        resources = {f"/cap/{i}.xml": cap_document(i, sent) for i in range(ITEMS)}
        resources["/feed"] = atom("first")
        server = serve(resources)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with session_scope() as session:
            from app.areas.models import Area

            session.add(Area(code="bd", name="区", level="district", path="bd",
                             division_code="130132000000"))
            session.flush()
            feed = create_feed(session=session, principal=SYSTEM, data=FeedCreate(
                name="bench", url=url + "/feed", kind="atom", area="bd")).id
        bare = baseline(url)
        started = time.perf_counter()
        first = poll_feed(feed)
        polled = time.perf_counter() - started
        started = time.perf_counter()
        second = poll_feed(feed)
        unchanged = time.perf_counter() - started
        resources["/feed"] = atom("again")
        started = time.perf_counter()
        third = poll_feed(feed)
        repeated = time.perf_counter() - started
        server.shutdown()
    size = len(resources["/cap/0.xml"]) / 1024
    print(f"{ITEMS} linked CAP alerts of {size:.1f} KiB: first poll {polled:.2f} s "
          f"({first.outcomes}), bare fetch + parse_cap {bare:.2f} s: ratio {polled / bare:.2f}")
    print(f"unchanged feed (304): {unchanged * 1000:.1f} ms, not_modified={second.not_modified}")
    print(f"same alerts under new entry ids: {repeated:.2f} s ({third.outcomes})")


if __name__ == "__main__":
    main()
