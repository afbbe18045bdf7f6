"""A village's week: an hour grid with today and now marked on a desk, a day list on a phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import PASSWORD
from tests.console.conftest import console_login, screenshot
from tests.console.offline import OfflineBrowser
from tests.console.scene import Scene

pytestmark = pytest.mark.browser
TZ = ZoneInfo("Asia/Shanghai")


def test_the_week_grid_on_a_desk_and_the_day_list_on_a_phone(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    scene = Scene(live_server.url).build(users=(("li", "staff", "t1"),))
    scene.daily_schedule("防火宣传", ["t1"], ["07:00", "12:00", "18:30"])
    scene.http.headers["Idempotency-Key"] = "now-1"
    scene.call("POST", "/api/v1/broadcasts", json={  # level I plays now, whatever the hour
        "title": "地震预警", "level": 1, "targets": ["v11"], "text": "请立即避险。"})
    today = datetime.now(UTC).astimezone(TZ).date()
    next_week = (today + timedelta(days=7)).isoformat()
    guard = OfflineBrowser(page_factory)

    desk = guard.open(1280, 800)
    console_login(desk, live_server.url, "li", PASSWORD)
    desk.goto(f"{live_server.url}/console/villages/v11/calendar")
    grid = desk.locator("#week-grid")
    assert grid.is_visible() and desk.locator("#day-list").is_hidden()
    assert grid.bounding_box()["x"] + grid.bounding_box()["width"] <= 1280
    assert desk.evaluate("document.documentElement.scrollWidth") <= 1280
    column = desk.locator(f".week-day.today[data-date='{today}']")
    assert column.count() == 1 and "今天" in desk.inner_text(".week-head.today")
    now_line = column.locator("#now-line")
    urgent = column.locator(".calendar-entry.urgent")
    assert "地震预警" in urgent.inner_text()
    # The line for now runs through the alert that started a moment ago.
    assert abs(now_line.bounding_box()["y"] - urgent.bounding_box()["y"]) < 30
    screenshot(desk, "calendar-1280")
    desk.goto(f"{live_server.url}/console/villages/v11/calendar?week={next_week}")
    entries = desk.locator(".calendar-entry")
    assert entries.count() == 21 and desk.locator("#now-line").count() == 0
    seven, noon = (desk.locator(f".calendar-entry:has-text('{t}')").first.bounding_box()
                   for t in ("07:00", "12:00"))
    assert seven["y"] < noon["y"] and abs((noon["y"] - seven["y"]) - 5 * 44) < 3  # 44 px an hour
    widths = {round(b.bounding_box()["width"]) for b in entries.all()}
    assert min(widths) > 100  # seven columns fit 1280 px with room to read

    phone = guard.open(360, 740)
    console_login(phone, live_server.url, "li", PASSWORD)
    phone.goto(f"{live_server.url}/console/villages/v11/calendar")
    assert phone.locator("#week-grid").is_hidden() and phone.locator("#day-list").is_visible()
    card = phone.locator("#today")
    assert "今天" in card.inner_text() and "地震预警" in card.inner_text()
    assert phone.locator(".day-card").count() == 7
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "calendar-360")
    phone.goto(f"{live_server.url}/console/villages/v11/calendar?week={next_week}")
    assert phone.locator(".day-entry").count() == 21
    first = phone.locator(".day-card").first.locator(".day-entry").first.inner_text()
    assert first.startswith("07:00") and "防火宣传" in first and "约 " in first
    guard.assert_offline()
