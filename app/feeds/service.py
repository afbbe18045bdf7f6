"""Feeds in the database: sources, the decision on each alert, held alerts and their review.

Every alert is relayed through the same flow as ``POST /api/v1/broadcasts/cap``
(:func:`app.broadcasts.flows.apply_cap`) acting as the feed: a principal of kind ``feed``
whose area is the feed's, so the audit log names the feed and nothing reaches outside it.
A reviewer's one-click relay runs the same flow as the feed and is audited under the
reviewer's name too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.areas.divisions import villages_in_divisions
from app.areas.models import Area
from app.areas.service import villages_under
from app.audit.service import record
from app.auth.permissions import Principal
from app.auth.scope import within
from app.broadcasts import cap_targets, flows
from app.broadcasts import service as broadcasts
from app.broadcasts.cap import CapAlert, CapError, parse_cap
from app.broadcasts.models import Broadcast
from app.config import get_settings
from app.db import utcnow
from app.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from app.feeds.models import Feed, FeedItem
from app.feeds.schemas import (
    DEFAULT_RULES,
    FeedCreate,
    FeedHealth,
    FeedItemRead,
    FeedRead,
    FeedUpdate,
)

__all__ = [
    "feed_principal",
    "create_feed",
    "update_feed",
    "delete_feed",
    "get_feed",
    "list_feeds",
    "feed_read",
    "item_read",
    "list_items",
    "get_item_in_scope",
    "decide",
    "record_failure",
    "relay_item",
    "dismiss_item",
]


# ---------------------------------------------------------------- feeds


def feed_principal(feed: Feed, area: Area) -> Principal:
    """Who a feed's broadcasts are made by: the feed itself, limited to its area."""
    return Principal(kind="feed", id=feed.id, name=feed.name, role=None,
                     area_code=area.code, area_path=area.path,
                     permissions=frozenset({"broadcasts:write"}))


def get_feed(*, session: Session, feed_id: str) -> Feed:
    """The feed; 404 when unknown."""
    feed = session.get(Feed, feed_id)
    if feed is None:
        raise NotFound(f"feed {feed_id!r} does not exist")
    return feed


def _area(session: Session, code: str) -> Area:
    area = session.get(Area, code)
    if area is None:
        raise InvalidInput(f"area {code!r} does not exist", code="unknown_area")
    return area


def _name_free(session: Session, name: str, feed_id: str | None) -> None:
    other = session.scalar(select(Feed).where(Feed.name == name))
    if other is not None and other.id != feed_id:
        raise Conflict(f"a feed named {name!r} already exists", code="duplicate_name")


def _audit(session: Session, principal: Principal, action: str, feed: Feed,
           before: dict[str, Any] | None = None) -> None:
    area = session.get(Area, feed.area_code)
    record(session=session, actor=principal.actor, action=action, entity="feed",
           entity_id=feed.id, area_path=area.path if area else None, before=before,
           after=None if action == "delete" else _view(feed))


def _view(feed: Feed) -> dict[str, Any]:
    return {"name": feed.name, "url": feed.url, "kind": feed.kind, "area": feed.area_code,
            "poll_seconds": feed.poll_seconds, "rules": feed.rules, "enabled": feed.enabled}


def create_feed(*, session: Session, principal: Principal, data: FeedCreate) -> Feed:
    """Store a feed; its first poll comes at the leader's next round."""
    _area(session, data.area)
    _name_free(session, data.name, None)
    feed = Feed(name=data.name, url=data.url, kind=data.kind, area_code=data.area,
                poll_seconds=data.poll_seconds or 300, timeout_seconds=data.timeout_seconds or 10,
                rules={**DEFAULT_RULES, **(data.rules or {})},
                enabled=True if data.enabled is None else data.enabled,
                created_by=principal.actor, consecutive_errors=0, error_count=0, item_errors=0)
    session.add(feed)
    session.flush()
    _audit(session, principal, "create", feed)
    return feed


def update_feed(*, session: Session, principal: Principal, feed_id: str,
                data: FeedUpdate) -> Feed:
    """Change a feed; a new URL forgets the old one's ETag and polls at once."""
    feed = get_feed(session=session, feed_id=feed_id)
    before = _view(feed)
    given = data.model_fields_set
    if data.name is not None:
        _name_free(session, data.name, feed.id)
        feed.name = data.name
    if data.area is not None:
        feed.area_code = _area(session, data.area).code
    if data.url is not None and data.url != feed.url:
        feed.url, feed.etag, feed.last_modified, feed.next_poll_at = data.url, None, None, None
    for name in ("kind", "poll_seconds", "timeout_seconds", "enabled"):
        if name in given and getattr(data, name) is not None:
            setattr(feed, name, getattr(data, name))
    if data.rules is not None:
        feed.rules = {**feed.rules, **{str(k): str(v) for k, v in data.rules.items()}}
    session.flush()
    _audit(session, principal, "update", feed, before)
    return feed


def delete_feed(*, session: Session, principal: Principal, feed_id: str) -> None:
    """Delete a feed and its items (broadcasts it made stay, with their audit trail)."""
    feed = get_feed(session=session, feed_id=feed_id)
    before = _view(feed)
    _audit(session, principal, "delete", feed, before)
    session.delete(feed)
    session.flush()


def list_feeds() -> Select[Any]:
    """Every feed, by name."""
    return select(Feed).order_by(Feed.name)


def feed_read(session: Session, feed: Feed) -> FeedRead:
    """The client view, with health and the number of held alerts."""
    held = session.scalar(select(func.count()).select_from(FeedItem).where(
        FeedItem.feed_id == feed.id, FeedItem.state == "held")) or 0
    health = FeedHealth(
        last_polled_at=feed.last_polled_at, last_success_at=feed.last_success_at,
        next_poll_at=feed.next_poll_at, last_error=feed.last_error,
        last_error_at=feed.last_error_at, consecutive_errors=feed.consecutive_errors,
        errors_total=feed.error_count, item_errors_total=feed.item_errors,
        ok=feed.last_polled_at is not None and feed.consecutive_errors == 0)
    return FeedRead(id=feed.id, name=feed.name, url=feed.url, kind=feed.kind,  # type: ignore[arg-type]
                    area=feed.area_code, poll_seconds=feed.poll_seconds,
                    timeout_seconds=feed.timeout_seconds, rules=dict(feed.rules),
                    enabled=feed.enabled, created_by=feed.created_by,
                    created_at=feed.created_at, health=health, held=held)


# ---------------------------------------------------------------- items


def item_read(item: FeedItem, feed_name: str | None = None) -> FeedItemRead:
    """The client view of an item."""
    return FeedItemRead(
        id=item.id, feed=item.feed_id, feed_name=feed_name, identifier=item.cap_identifier,
        sender=item.cap_sender, sent=item.cap_sent, msg_type=item.msg_type, status=item.status,
        severity=item.severity, event=item.event, title=item.title, language=item.language,
        expires=item.expires, villages=list(item.villages or ()), state=item.state,
        detail=item.detail, broadcast=item.broadcast_id, received_at=item.received_at,
        decided_at=item.decided_at, decided_by=item.decided_by)


def list_items(*, principal: Principal, state: str | None = None,
               feed: str | None = None) -> Select[Any]:
    """Items of the feeds whose area the caller covers (or that reach into it), newest first."""
    stmt = select(FeedItem).join(Feed, Feed.id == FeedItem.feed_id).join(
        Area, Area.code == Feed.area_code)
    if principal.area_path is not None:
        mine = principal.area_path
        stmt = stmt.where(within(Area.path, mine) | (func.substr(mine, 1, func.length(Area.path)
                                                                 + 1) == Area.path + "/"))
    if state:
        stmt = stmt.where(FeedItem.state == state)
    if feed:
        stmt = stmt.where(FeedItem.feed_id == feed)
    return stmt.order_by(FeedItem.received_at.desc(), FeedItem.id.desc())


def get_item_in_scope(*, session: Session, principal: Principal, item_id: str) -> FeedItem:
    """An item whose villages all lie in the caller's area; 404 / 403."""
    item = session.get(FeedItem, item_id)
    if item is None:
        raise NotFound(f"feed item {item_id!r} does not exist")
    if principal.area_path is not None:
        paths = session.scalars(select(Area.path).where(Area.code.in_(list(item.villages or ()))))
        if not item.villages or not all(principal.covers(p) for p in paths):
            raise Forbidden(f"feed item {item_id!r} reaches villages outside your area")
    return item


# ---------------------------------------------------------------- deciding


def _villages(session: Session, area: Area, alert: CapAlert) -> list[str]:
    """Villages of the feed's area the alert names: by area code, division code or shape."""
    found = {v.code for v in villages_in_divisions(session, alert.division_codes, area.path)}
    known = list(session.scalars(select(Area).where(Area.code.in_(alert.area_codes),
                                                    within(Area.path, area.path))))
    found |= {v.code for v in villages_under(session, known)}
    if alert.has_geometry:  # every speaker at once (cap_targets), then kept to the feed's area
        inside = cap_targets.villages_in_shapes(alert, cap_targets.speaker_positions(session))
        found |= set(session.scalars(select(Area.code).where(
            Area.code.in_(sorted(inside)), within(Area.path, area.path))))
    return sorted(found)


def _item(feed: Feed, key: str, alert: CapAlert | None, state: str, detail: str | None,
          now: datetime, **extra: Any) -> FeedItem:
    fields: dict[str, Any] = {}
    if alert is not None:
        fields = {"cap_sender": alert.sender, "cap_identifier": alert.identifier,
                  "cap_sent": alert.sent, "msg_type": alert.msg_type, "status": alert.status,
                  "severity": alert.severity, "event": (alert.event or "")[:200] or None,
                  "title": (alert.title or "")[:400] or None, "language": alert.language,
                  "expires": alert.expires}
    return FeedItem(feed_id=feed.id, entry_key=key[:600], state=state,
                    detail=(detail or "")[:1000] or None, received_at=now,
                    decided_at=now if state != "held" else None,
                    decided_by=f"feed:{feed.name}" if state != "held" else None,
                    **fields, **extra)


def _referenced_items(session: Session, alert: CapAlert) -> list[FeedItem]:
    found = []
    for sender, identifier, sent in alert.references:
        rows = session.scalars(select(FeedItem).where(FeedItem.cap_sender == sender,
                                                      FeedItem.cap_identifier == identifier))
        found += [r for r in rows if r.cap_sent == sent]
    return found


def _active_referenced(session: Session, alert: CapAlert) -> list[Broadcast]:
    return [b for b in broadcasts.find_referenced(session, alert.references)
            if b.status == "active"]


def _supersede(references: list[FeedItem], alert: CapAlert, now: datetime) -> None:
    """Held alerts a later Update or Cancel names can no longer be relayed."""
    for old in references:
        if old.state == "held":
            old.state, old.decided_at = "cancelled", now
            old.decided_by = f"cap:{alert.sender}"
            old.detail = f"{alert.msg_type} {alert.identifier} replaced it"
            old.document = None


def _apply_cap(session: Session, principal: Principal, document: bytes) -> flows.CapResult:
    """Relay a CAP document through the push route's flow (shapes matched in this thread)."""
    located = flows.locate_cap(
        document, positions=lambda: cap_targets.speaker_positions(session))
    return flows.apply_cap(session=session, principal=principal, located=located)


def _cancel(session: Session, feed: Feed, principal: Principal, key: str, alert: CapAlert,
            document: bytes, now: datetime) -> FeedItem:
    references = _referenced_items(session, alert)
    _supersede(references, alert, now)
    if _active_referenced(session, alert):
        outcome = _apply_cap(session, principal, document)
        return _item(feed, key, alert, "relayed", outcome.detail, now)
    detail = ("cancels held alert(s)" if references
              else "names no alert this service relayed")
    return _item(feed, key, alert, "ignored", detail, now)


def _relay(session: Session, feed: Feed, principal: Principal, key: str, alert: CapAlert,
           document: bytes, villages: list[str], now: datetime) -> FeedItem:
    outcome = _apply_cap(session, principal, document)
    broadcast = outcome.broadcasts[0].id if outcome.broadcasts else None
    return _item(feed, key, alert, "relayed", outcome.detail, now, villages=villages,
                 broadcast_id=broadcast)


def decide(session: Session, feed: Feed, area: Area, key: str, document: bytes,
           now: datetime | None = None) -> FeedItem | None:
    """Read one CAP message of a feed and act on it; the item to record, or None when this
    message (sender, identifier, sent) was seen before. AppError from relaying propagates:
    the caller records the failure apart (:func:`record_failure`)."""
    now = now or utcnow()
    try:
        alert = parse_cap(document, max_bytes=get_settings().max_cap_bytes,
                          max_audio_bytes=flows.MAX_CAP_AUDIO_BYTES)
    except CapError as exc:
        return _item(feed, key, None, "invalid", str(exc), now)
    seen = session.scalars(select(FeedItem).where(
        FeedItem.cap_sender == alert.sender, FeedItem.cap_identifier == alert.identifier))
    if any(item.cap_sent == alert.sent for item in seen):
        return None
    if broadcasts.find_by_cap(session, alert.sender, alert.identifier, alert.sent) is not None:
        return None  # it was pushed to POST /broadcasts/cap too: that one stands
    principal = feed_principal(feed, area)
    if not alert.broadcast:
        return _item(feed, key, alert, "not_broadcast", f"status {alert.status}, msgType "
                     f"{alert.msg_type}: never broadcast", now)
    if alert.msg_type == "Cancel":
        return _cancel(session, feed, principal, key, alert, document, now)
    return _decide_alert(session, feed, area, principal, key, alert, document, now)


def _decide_alert(session: Session, feed: Feed, area: Area, principal: Principal, key: str,
                  alert: CapAlert, document: bytes, now: datetime) -> FeedItem:
    villages = _villages(session, area, alert)
    _supersede(_referenced_items(session, alert), alert, now)
    replaced = _active_referenced(session, alert) if alert.msg_type == "Update" else []
    rule = feed.rules.get(alert.severity or "Unknown", "hold")
    if not villages or rule == "ignore" or (alert.expires is not None and alert.expires <= now):
        for old in replaced:  # an Update that no longer concerns us ends what it updates
            broadcasts.cancel_broadcast(session=session, principal=principal, broadcast=old)
        if not villages:
            return _item(feed, key, alert, "outside", f"no village of {area.code} in its area",
                         now)
        if rule == "ignore":
            return _item(feed, key, alert, "ignored", f"severity {alert.severity}: ignored",
                         now, villages=villages)
        return _item(feed, key, alert, "ignored", "expired before it was seen", now,
                     villages=villages)
    if rule == "relay":
        return _relay(session, feed, principal, key, alert, document, villages, now)
    return _item(feed, key, alert, "held", f"severity {alert.severity}: held for review", now,
                 villages=villages, document=document.decode("utf-8", errors="replace"))


def record_failure(session: Session, feed: Feed, key: str, document: bytes, error: AppError,
                   now: datetime | None = None) -> FeedItem:
    """An alert whose relay failed: kept (not tried again) with the reason."""
    now = now or utcnow()
    try:
        alert: CapAlert | None = parse_cap(document, max_bytes=get_settings().max_cap_bytes,
                                           max_audio_bytes=flows.MAX_CAP_AUDIO_BYTES)
    except CapError:
        alert = None
    item = _item(feed, key, alert, "failed", f"{error.code}: {error.message}", now)
    session.add(item)
    return item


# ---------------------------------------------------------------- review


def _held(session: Session, principal: Principal, item_id: str) -> tuple[FeedItem, Feed]:
    item = get_item_in_scope(session=session, principal=principal, item_id=item_id)
    if item.state != "held":
        raise Conflict(f"feed item {item_id!r} is {item.state}, not held", code="not_held")
    return item, get_feed(session=session, feed_id=item.feed_id)


def relay_item(*, session: Session, principal: Principal, item_id: str) -> FeedItem:
    """A reviewer relays a held alert: broadcast by the feed, the decision by the reviewer."""
    item, feed = _held(session, principal, item_id)
    area = _area(session, feed.area_code)
    if item.expires is not None and item.expires <= utcnow():
        raise Conflict(f"the alert expired at {item.expires.isoformat()}", code="already_expired")
    outcome = _apply_cap(session, feed_principal(feed, area),
                         (item.document or "").encode("utf-8"))
    item.state, item.detail = "relayed", f"relayed by {principal.actor}: {outcome.detail}"
    item.broadcast_id = outcome.broadcasts[0].id if outcome.broadcasts else None
    item.decided_at, item.decided_by = utcnow(), principal.actor
    session.flush()
    record(session=session, actor=principal.actor, action="relay", entity="feed_item",
           entity_id=item.id, area_path=area.path, after=item.as_summary())
    return item


def dismiss_item(*, session: Session, principal: Principal, item_id: str,
                 reason: str | None) -> FeedItem:
    """A reviewer decides a held alert is not for the loudspeakers."""
    item, feed = _held(session, principal, item_id)
    item.state, item.detail = "dismissed", reason or f"dismissed by {principal.actor}"
    item.decided_at, item.decided_by, item.document = utcnow(), principal.actor, None
    session.flush()
    area = session.get(Area, feed.area_code)
    record(session=session, actor=principal.actor, action="dismiss", entity="feed_item",
           entity_id=item.id, area_path=area.path if area else None,
           after={**item.as_summary(), "reason": reason})
    return item
