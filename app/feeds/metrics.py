"""Feed health on ``/metrics``, read from the database at each scrape (any process answers it,
while only the leader polls). :mod:`app.wiring` installs the collector."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app.db import session_scope
from app.feeds.models import Feed

__all__ = ["FeedCollector"]

log = logging.getLogger(__name__)


class FeedCollector(Collector):
    """``cunxiang_feed_last_success_timestamp_seconds``, ``cunxiang_feed_errors_total``,
    ``cunxiang_feed_item_errors_total`` and ``cunxiang_feed_consecutive_errors``, per feed."""

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """The families, one sample per feed (none while the database is away)."""
        success = GaugeMetricFamily("cunxiang_feed_last_success_timestamp_seconds",
                                    "When the feed was last fetched and read", labels=["feed"])
        errors = CounterMetricFamily("cunxiang_feed_errors",
                                     "Polls of the feed that failed (timeouts, HTTP errors, "
                                     "unreadable documents)", labels=["feed"])
        item_errors = CounterMetricFamily("cunxiang_feed_item_errors",
                                          "Alerts of the feed that could not be fetched or "
                                          "relayed", labels=["feed"])
        streak = GaugeMetricFamily("cunxiang_feed_consecutive_errors",
                                   "Failed polls since the last success", labels=["feed"])
        try:
            with session_scope() as session:
                rows = session.execute(select(Feed.name, Feed.last_success_at, Feed.error_count,
                                              Feed.item_errors, Feed.consecutive_errors)).all()
        except SQLAlchemyError:
            log.warning("feed metrics: the database did not answer")
            rows = []
        for name, last, count, items, consecutive in rows:
            if last is not None:
                success.add_metric([name], last.timestamp())
            errors.add_metric([name], count)
            item_errors.add_metric([name], items)
            streak.add_metric([name], consecutive)
        yield from (success, errors, item_errors, streak)

