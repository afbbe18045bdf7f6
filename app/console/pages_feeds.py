"""Console page of official warning feeds: their health, and held alerts to relay or dismiss."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import select

from app.console.deps import ConsoleUser, render, require_page
from app.db import DbSession
from app.feeds import service
from app.feeds.models import Feed

__all__ = ["router"]

router = APIRouter(prefix="/console", include_in_schema=False)

ITEM_STATES = {"relayed": "已转发", "held": "待审核", "dismissed": "已驳回", "ignored": "已忽略",
               "outside": "不在辖区", "cancelled": "已撤销", "not_broadcast": "不播发",
               "invalid": "无法读取", "failed": "转发失败"}
SEVERITIES = {"Extreme": "特别严重（红）", "Severe": "严重（橙）", "Moderate": "较重（黄）",
              "Minor": "一般（蓝）", "Unknown": "未知"}
RULES = {"relay": "立即转发", "hold": "人工审核", "ignore": "忽略"}


@router.get("/feeds")
def feeds_page(request: Request, user: ConsoleUser, session: DbSession) -> Any:
    """Feeds with their health; alerts held for review with one-click relay and dismiss."""
    require_page(user, "feeds:read")
    request.state.principal = user
    feeds = [service.feed_read(session, f) for f in session.scalars(service.list_feeds())]
    names = dict(session.execute(select(Feed.id, Feed.name)).all())
    held = [service.item_read(i, names.get(i.feed_id)) for i in session.scalars(
        service.list_items(principal=user, state="held").limit(200))]
    recent = [service.item_read(i, names.get(i.feed_id)) for i in session.scalars(
        service.list_items(principal=user).limit(50))]
    return render(request, "feeds.html", user, feeds=feeds, held=held, recent=recent,
                  states=ITEM_STATES, severities=SEVERITIES, rules=RULES,
                  can_review=user.can("feeds:review"))
