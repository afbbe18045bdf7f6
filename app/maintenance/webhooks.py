"""Webhook subscriptions and their delivery queue: rows written with the event, sent later.

``queue_event`` adds one delivery row per subscriber in the caller's transaction, so an
event and its webhooks commit (or roll back) together, and emits ``webhook.queued`` so that
this process's worker (:mod:`app.maintenance.webhook_worker`) looks after the commit. A
worker claims a due row with a guarded UPDATE (any number of processes may run one), POSTs
the stored body signed with ``X-Cunxiang-Signature: sha256=<hex HMAC-SHA256 of the body>``,
and records the outcome; failures are retried with exponential back-off until ``MAX_ATTEMPTS``.

Delivery is at least once (a worker that dies mid-send leaves its claim to run out, and the
row is sent again): receivers de-duplicate on ``X-Cunxiang-Delivery``, also the body's ``id``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from app.audit.service import jsonable, record
from app.auth.permissions import Principal
from app.db import utcnow
from app.errors import NotFound
from app.ids import new_id
from app.maintenance.models import Webhook, WebhookDelivery
from app.maintenance.schemas import DeliveryRead, WebhookCreate, WebhookRead
from app.runtime.events import emit

__all__ = [
    "ClaimedDelivery",
    "create_webhook",
    "list_webhooks",
    "get_webhook",
    "delete_webhook",
    "webhook_read",
    "list_deliveries",
    "delivery_read",
    "queue_event",
    "queue_events",
    "on_broadcast_finished",
    "subscribed",
    "sign",
    "claim_due",
    "record_success",
    "record_failure",
    "retry_delay",
    "MAX_ATTEMPTS",
    "CLAIM_FOR",
]

MAX_ATTEMPTS = 12
CLAIM_FOR = timedelta(seconds=60)
_FIRST_RETRY_S, _LONGEST_RETRY_S = 10, 3600


# ---------------------------------------------------------------- subscriptions


def webhook_read(webhook: Webhook) -> WebhookRead:
    """The client view of a subscription (without its secret)."""
    return WebhookRead(id=webhook.id, url=webhook.url, events=list(webhook.events),
                       created_by=webhook.created_by, created_at=webhook.created_at)


def create_webhook(*, session: Session, principal: Principal, data: WebhookCreate) -> Webhook:
    """Subscribe a URL to some events."""
    webhook = Webhook(url=str(data.url), events=list(data.events), secret=data.secret,
                      created_by=principal.actor)
    session.add(webhook)
    session.flush()
    record(session=session, actor=principal.actor, action="create", entity="webhook",
           entity_id=webhook.id, after=webhook_read(webhook).model_dump())
    return webhook


def list_webhooks(*, session: Session) -> Select[Webhook]:
    """Every subscription, oldest first."""
    return select(Webhook).order_by(Webhook.created_at, Webhook.id)


def get_webhook(*, session: Session, webhook_id: str) -> Webhook:
    """One subscription; 404 when unknown."""
    webhook = session.get(Webhook, webhook_id)
    if webhook is None:
        raise NotFound(f"webhook {webhook_id!r} does not exist")
    return webhook


def delete_webhook(*, session: Session, principal: Principal, webhook_id: str) -> None:
    """Unsubscribe; pending deliveries go with it."""
    webhook = get_webhook(session=session, webhook_id=webhook_id)
    before = webhook_read(webhook).model_dump()
    session.delete(webhook)
    record(session=session, actor=principal.actor, action="delete", entity="webhook",
           entity_id=webhook_id, before=before)


def delivery_read(delivery: WebhookDelivery) -> DeliveryRead:
    """The delivery log entry of one event to one subscriber."""
    return DeliveryRead(
        id=delivery.id, event=delivery.event, status=delivery.status,  # type: ignore[arg-type]
        attempts=delivery.attempts,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_status=delivery.last_status, last_error=delivery.last_error,
        created_at=delivery.created_at, delivered_at=delivery.delivered_at,
        body=json.loads(delivery.body),
    )


def list_deliveries(*, session: Session, webhook_id: str) -> Select[WebhookDelivery]:
    """A subscription's delivery log, newest first."""
    get_webhook(session=session, webhook_id=webhook_id)
    return (select(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc()))


# ---------------------------------------------------------------- queueing


def _body(delivery_id: str, event: str, at: datetime, data: Mapping[str, Any]) -> str:
    document = {"id": delivery_id, "event": event, "at": at.isoformat(), "data": jsonable(data)}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def subscribed(session: Session, event: str) -> bool:
    """True when some subscription wants ``event`` (so its data is worth building)."""
    return any(event in wanted for wanted in session.scalars(select(Webhook.events)))


def queue_event(
    session: Session, event: str, data: Mapping[str, Any], *, now: datetime | None = None
) -> int:
    """Queue ``event`` for every subscriber, in the caller's transaction; returns how many."""
    return queue_events(session, [(event, data)], now=now)


def queue_events(
    session: Session, events: list[tuple[str, Mapping[str, Any]]], *, now: datetime | None = None
) -> int:
    """Queue several events at once (one look-up of the subscriptions)."""
    if not events:
        return 0
    subscribers = session.execute(select(Webhook.id, Webhook.events)).all()
    now = now or utcnow()
    rows = []
    for event, data in events:
        for webhook_id, wanted in subscribers:
            if event in wanted:
                delivery_id = new_id("dlv")
                rows.append(WebhookDelivery(
                    id=delivery_id, webhook_id=webhook_id, event=event,
                    body=_body(delivery_id, event, now, data), status="pending", attempts=0,
                    next_attempt_at=now, created_at=now))
    if rows:
        session.add_all(rows)
        emit(session, "webhook.queued")  # wakes this process's workers after the commit
    return len(rows)


def on_broadcast_finished(session: Session, broadcast_id: str, **data: Any) -> None:
    """Queue the ``broadcast.finished`` webhook (its subscribers' deliveries)."""
    queue_event(session, "broadcast.finished", {"broadcast": broadcast_id, **data})


# ---------------------------------------------------------------- delivering


def sign(body: bytes, secret: str) -> str:
    """The ``X-Cunxiang-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 10 s, 20 s, 40 s … at most 1 h."""
    seconds = _FIRST_RETRY_S * 2 ** max(0, attempts - 1)
    return timedelta(seconds=min(seconds, _LONGEST_RETRY_S))


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this worker holds: where to send what, signed with which secret."""

    id: str
    event: str
    url: str
    secret: str
    body: bytes
    attempts: int


def _due(now: datetime) -> Any:
    return (WebhookDelivery.status == "pending") & (WebhookDelivery.next_attempt_at <= now) & \
        or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now)


def claim_due(
    *, session: Session, limit: int, now: datetime | None = None
) -> list[ClaimedDelivery]:
    """Take up to ``limit`` due deliveries; a row another worker took first is skipped."""
    now = now or utcnow()
    candidates = session.execute(
        select(WebhookDelivery.id).where(_due(now))
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)
    ).scalars().all()
    claimed = []
    for delivery_id in candidates:
        taken = session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, _due(now))
            .values(locked_until=now + CLAIM_FOR).execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            claimed.append(delivery_id)
    if not claimed:
        return []
    rows = session.execute(
        select(WebhookDelivery.id, WebhookDelivery.event, Webhook.url, Webhook.secret,
               WebhookDelivery.body, WebhookDelivery.attempts)
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id.in_(claimed))
    ).all()
    return [ClaimedDelivery(id=r[0], event=r[1], url=r[2], secret=r[3],
                            body=r[4].encode("utf-8"), attempts=r[5]) for r in rows]


def record_success(
    *, session: Session, delivery_id: str, status_code: int, now: datetime | None = None
) -> None:
    """The receiver answered 2xx: the delivery is done."""
    now = now or utcnow()
    session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        .values(status="delivered", attempts=WebhookDelivery.attempts + 1, delivered_at=now,
                last_status=status_code, last_error=None, locked_until=None)
        .execution_options(synchronize_session=False)
    )


def record_failure(
    *, session: Session, delivery_id: str, status_code: int | None, error: str,
    now: datetime | None = None,
) -> None:
    """The receiver failed or did not answer: try again later, or give up after the last try."""
    now = now or utcnow()
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:  # the subscription was deleted meanwhile
        return
    delivery.attempts += 1
    delivery.last_status, delivery.last_error = status_code, error[:500]
    delivery.locked_until = None
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = "failed"
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
