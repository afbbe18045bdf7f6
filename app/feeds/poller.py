"""Polling feeds: a leader job fetches each due feed (conditional GET) and acts on new alerts.

Per feed, per poll:

1. ``GET`` its URL with ``If-None-Match`` / ``If-Modified-Since`` from the last answer; a
   304 is a success with nothing new.
2. Read its entries (:mod:`app.feeds.formats`); entries seen before (by key) are skipped, the
   others' CAP documents fetched (linked) or taken (inline).
3. Each new alert is decided in a transaction of its own (:func:`app.feeds.service.decide`):
   relayed, held, ignored …; one that fails to relay is recorded as ``failed``.
4. The feed's health is written: success (and the new ETag, only when every entry could be
   read, so a failed entry is fetched again next time) or the error.

A feed that times out, answers an error or sends something unreadable records the error and
is tried again at its next interval; the other feeds are polled all the same. Feeds are
fetched concurrently (a few threads), so one slow source does not delay the rest.
"""

from __future__ import annotations

import concurrent.futures
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import __version__
from app.areas.models import Area
from app.config import get_settings
from app.db import session_scope, utcnow
from app.errors import AppError
from app.feeds.formats import Entry, FeedFormatError, parse_feed
from app.feeds.models import Feed, FeedItem
from app.feeds.schemas import PollRead
from app.feeds.service import decide, record_failure

__all__ = ["poll_feed", "poll_due_feeds", "run_feed_polls", "MAX_FEED_BYTES", "POLL_EVERY_S"]

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 20 * 1024 * 1024
POLL_EVERY_S = 10.0  # how often the leader looks for feeds that are due
_FETCH_THREADS = 4
_USER_AGENT = f"cunxiang/{__version__} (village emergency broadcasting)"


class FetchError(Exception):
    """A feed or a linked document could not be fetched; ``str()`` says why."""


@dataclass(frozen=True)
class _Snapshot:
    """The feed as this poll saw it (read in a short transaction, used outside any)."""

    id: str
    name: str
    url: str
    kind: str
    timeout: float
    etag: str | None
    last_modified: str | None


def _snapshot(feed: Feed) -> _Snapshot:
    return _Snapshot(feed.id, feed.name, feed.url, feed.kind, float(feed.timeout_seconds),
                     feed.etag, feed.last_modified)


@dataclass(frozen=True)
class _Answer:
    """A GET's outcome: status, body (empty for a 304), validators and the final URL."""

    status: int
    body: bytes
    etag: str | None
    last_modified: str | None
    url: str


def _get(client: httpx.Client, url: str, headers: dict[str, str], limit: int) -> _Answer:
    """GET ``url``: a 304 or the body of a 2xx, refusing errors and oversized bodies."""
    try:
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400:
                raise FetchError(f"HTTP {response.status_code} from {url}")
            body = bytearray()
            if response.status_code != 304:
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise FetchError(f"{url} is larger than {limit} bytes")
            return _Answer(response.status_code, bytes(body), response.headers.get("etag"),
                           response.headers.get("last-modified"), str(response.url))
    except httpx.TimeoutException:
        raise FetchError(f"timed out after {client.timeout.read:g} s fetching {url}") from None
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__} fetching {url}: {exc}") from None


def _entry_documents(client: httpx.Client, entries: list[Entry]
                     ) -> tuple[list[tuple[Entry, bytes]], list[str]]:
    """The CAP bytes of each entry; fetch failures are listed, not raised."""
    found, failures = [], []
    for entry in entries:
        if entry.inline is not None:
            found.append((entry, entry.inline))
            continue
        assert entry.link is not None
        try:
            found.append((entry, _get(client, entry.link, {}, get_settings().max_cap_bytes).body))
        except FetchError as exc:
            failures.append(str(exc))
    return found, failures


@dataclass
class _Fetched:
    """What fetching one feed gave: documents of new entries, or why it failed."""

    snapshot: _Snapshot
    not_modified: bool = False
    entries: int = 0
    documents: list[tuple[Entry, bytes]] | None = None
    entry_failures: list[str] | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None


def _known_keys(snapshot: _Snapshot, entries: list[Entry]) -> set[str]:
    keys = [e.key[:600] for e in entries]
    known: set[str] = set()
    with session_scope() as session:
        for start in range(0, len(keys), 500):
            known.update(session.scalars(select(FeedItem.entry_key).where(
                FeedItem.feed_id == snapshot.id, FeedItem.entry_key.in_(keys[start:start + 500]))))
    return known


def _fetch(snapshot: _Snapshot) -> _Fetched:
    """Fetch the feed and its new entries' documents (no transaction held meanwhile)."""
    headers = {"User-Agent": _USER_AGENT}
    if snapshot.etag:
        headers["If-None-Match"] = snapshot.etag
    if snapshot.last_modified:
        headers["If-Modified-Since"] = snapshot.last_modified
    try:
        with httpx.Client(timeout=snapshot.timeout, follow_redirects=True,
                          headers={"User-Agent": _USER_AGENT}) as client:
            answer = _get(client, snapshot.url, headers, MAX_FEED_BYTES)
            if answer.status == 304:
                return _Fetched(snapshot, not_modified=True, etag=snapshot.etag,
                                last_modified=snapshot.last_modified)
            entries = parse_feed(snapshot.kind, answer.body, answer.url)
            known = _known_keys(snapshot, entries)
            new = [e for e in entries if e.key[:600] not in known]
            documents, failures = _entry_documents(client, new)
    except (FetchError, FeedFormatError) as exc:
        return _Fetched(snapshot, error=str(exc)[:500])
    return _Fetched(snapshot, entries=len(entries), documents=documents,
                    entry_failures=failures, etag=answer.etag,
                    last_modified=answer.last_modified)


def _act(fetched: _Fetched, now: datetime) -> Counter[str]:
    """Decide on each new document, each in its own transaction."""
    outcomes: Counter[str] = Counter()
    if not fetched.documents:
        return outcomes
    with session_scope() as session:
        feed, area = _load(session, fetched.snapshot.id)
        session.expunge_all()  # read once, used (unchanged) by every transaction below
    for entry, document in fetched.documents:
        try:
            with session_scope() as session:
                item = decide(session, feed, area, entry.key, document, now)
                if item is not None:
                    session.add(item)
                outcomes[item.state if item is not None else "duplicate"] += 1
        except AppError as exc:
            with session_scope() as session:
                record_failure(session, feed, entry.key, document, exc, now)
            outcomes["failed"] += 1
            log.warning("feed %s: relaying %s failed: %s", fetched.snapshot.name, entry.key,
                        exc.message)
    return outcomes


def _load(session: Session, feed_id: str) -> tuple[Feed, Area]:
    feed = session.get(Feed, feed_id)
    if feed is None:
        raise AppError("the feed was deleted during its poll", code="feed_deleted", status=409)
    area = session.get(Area, feed.area_code)
    assert area is not None  # a foreign key keeps it
    return feed, area


def _record_health(fetched: _Fetched, outcomes: Counter[str], now: datetime) -> None:
    with session_scope() as session:
        feed = session.get(Feed, fetched.snapshot.id)
        if feed is None:
            return
        feed.last_polled_at = now
        feed.next_poll_at = now + timedelta(seconds=feed.poll_seconds)
        failures = fetched.entry_failures or []
        if fetched.error is not None:
            feed.last_error, feed.last_error_at = fetched.error, now
            feed.consecutive_errors += 1
            feed.error_count += 1
            return
        feed.last_success_at, feed.consecutive_errors = now, 0
        feed.item_errors += len(failures) + outcomes.get("failed", 0)
        if failures:
            feed.last_error = f"{len(failures)} alert(s) not fetched: {failures[0]}"[:500]
            feed.last_error_at = now
        else:  # only a poll that read everything may skip it all next time
            feed.etag, feed.last_modified = fetched.etag, fetched.last_modified


def poll_feed(feed_id: str, *, now: datetime | None = None) -> PollRead:
    """Poll one feed now (whatever its schedule) and act on what is new."""
    now = now or utcnow()
    with session_scope() as session:
        feed = session.get(Feed, feed_id)
        if feed is None:
            return PollRead(feed=feed_id, ok=False, error="no such feed")
        snapshot = _snapshot(feed)
    return _poll(snapshot, now)


def _poll(snapshot: _Snapshot, now: datetime) -> PollRead:
    fetched = _fetch(snapshot)
    outcomes: Counter[str] = Counter()
    try:
        if fetched.error is None:
            outcomes = _act(fetched, now)
    except (AppError, SQLAlchemyError) as exc:  # deleted meanwhile, or the database away
        fetched.error = f"recording its alerts failed: {exc}"[:500]
    try:
        _record_health(fetched, outcomes, now)
    except SQLAlchemyError:
        log.exception("feed %s: its health could not be recorded", snapshot.name)
    if fetched.error is not None:
        log.warning("feed %s: %s", snapshot.name, fetched.error)
    return PollRead(feed=snapshot.id, ok=fetched.error is None, not_modified=fetched.not_modified,
                    entries=fetched.entries, new=len(fetched.documents or ()),
                    outcomes=dict(outcomes), error=fetched.error)


def poll_due_feeds(*, now: datetime | None = None) -> list[PollRead]:
    """Poll every enabled feed whose time has come, a few at once."""
    now = now or utcnow()
    with session_scope() as session:
        due = [_snapshot(f) for f in session.scalars(
            select(Feed).where(Feed.enabled.is_(True),
                               or_(Feed.next_poll_at.is_(None), Feed.next_poll_at <= now))
            .order_by(Feed.next_poll_at, Feed.id))]
    if not due:
        return []
    with concurrent.futures.ThreadPoolExecutor(_FETCH_THREADS,
                                               thread_name_prefix="feed-poll") as pool:
        return list(pool.map(lambda s: _poll(s, now), due))


def run_feed_polls() -> None:
    """The periodic poll on the lease holder."""
    for report in poll_due_feeds():
        if report.new or not report.ok:
            log.info("feed %s: %s", report.feed, report)
