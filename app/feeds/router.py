"""HTTP routes of feeds (sources, health, a poll on demand) and their items (held alerts'
review: relay in one click, or dismiss)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy import select

from app.auth.deps import require
from app.auth.permissions import Principal
from app.db import DbSession, commit_early
from app.feeds import poller, service
from app.feeds.models import ITEM_STATES, Feed
from app.feeds.schemas import DismissBody, FeedCreate, FeedItemRead, FeedRead, FeedUpdate, PollRead
from app.pagination import Page, Paging, fetch_page

__all__ = ["router"]

router = APIRouter(tags=["feeds"])
Reader = Annotated[Principal, Depends(require("feeds:read"))]
Admin = Annotated[Principal, Depends(require("feeds:write"))]
Reviewer = Annotated[Principal, Depends(require("feeds:review"))]


@router.post("/api/v1/feeds", status_code=201, response_model=FeedRead)
def create_feed(data: FeedCreate, principal: Admin, session: DbSession) -> FeedRead:
    """A new feed source: URL, kind, the area it may reach, poll interval, rules."""
    return service.feed_read(session, service.create_feed(session=session, principal=principal,
                                                          data=data))


@router.get("/api/v1/feeds", response_model=Page[FeedRead])
def list_feeds(principal: Reader, session: DbSession, paging: Paging) -> Page[FeedRead]:
    """Every feed with its health."""
    rows, total = fetch_page(session, service.list_feeds(), paging)
    return Page(items=[service.feed_read(session, f) for f in rows], total=total)


@router.get("/api/v1/feeds/{feed_id}", response_model=FeedRead)
def get_feed(feed_id: str, principal: Reader, session: DbSession) -> FeedRead:
    """One feed with its health."""
    return service.feed_read(session, service.get_feed(session=session, feed_id=feed_id))


@router.patch("/api/v1/feeds/{feed_id}", response_model=FeedRead)
def update_feed(feed_id: str, data: FeedUpdate, principal: Admin,
                session: DbSession) -> FeedRead:
    """Change a feed (rules, interval, area, URL, enabled)."""
    return service.feed_read(session, service.update_feed(session=session, principal=principal,
                                                          feed_id=feed_id, data=data))


@router.delete("/api/v1/feeds/{feed_id}", status_code=204, response_class=Response)
def delete_feed(feed_id: str, principal: Admin, session: DbSession) -> Response:
    """Delete a feed and its items; broadcasts it made stay."""
    service.delete_feed(session=session, principal=principal, feed_id=feed_id)
    return Response(status_code=204)


@router.post("/api/v1/feeds/{feed_id}/poll", response_model=PollRead)
def poll_now(feed_id: str, principal: Admin, session: DbSession) -> PollRead:
    """Poll the feed now (as the leader would), and say what it did."""
    service.get_feed(session=session, feed_id=feed_id)
    commit_early(session)  # the poll writes in transactions of its own
    return poller.poll_feed(feed_id)


@router.get("/api/v1/feed-items", response_model=Page[FeedItemRead])
def list_items(
    principal: Reader, session: DbSession, paging: Paging,
    state: Annotated[str | None, Query(description=f"one of {', '.join(ITEM_STATES)}")] = None,
    feed: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[FeedItemRead]:
    """Alerts seen in the feeds reaching the caller's area, newest first (``state=held``: the
    ones waiting for a reviewer)."""
    rows, total = fetch_page(session, service.list_items(principal=principal, state=state,
                                                         feed=feed), paging)
    names = dict(session.execute(select(Feed.id, Feed.name)).all())
    return Page(items=[service.item_read(i, names.get(i.feed_id)) for i in rows], total=total)


@router.get("/api/v1/feed-items/{item_id}", response_model=FeedItemRead)
def get_item(item_id: str, principal: Reader, session: DbSession) -> FeedItemRead:
    """One alert of a feed."""
    return service.item_read(service.get_item_in_scope(session=session, principal=principal,
                                                       item_id=item_id))


@router.post("/api/v1/feed-items/{item_id}/relay", response_model=FeedItemRead)
def relay_item(item_id: str, principal: Reviewer, session: DbSession) -> FeedItemRead:
    """Relay a held alert now: broadcast by its feed, decided by you."""
    return service.item_read(service.relay_item(session=session, principal=principal,
                                                item_id=item_id))


@router.post("/api/v1/feed-items/{item_id}/dismiss", response_model=FeedItemRead)
def dismiss_item(item_id: str, principal: Reviewer, session: DbSession,
                 body: DismissBody | None = None) -> FeedItemRead:
    """Decide a held alert is not for the loudspeakers."""
    return service.item_read(service.dismiss_item(session=session, principal=principal,
                                                  item_id=item_id,
                                                  reason=body.reason if body else None))
