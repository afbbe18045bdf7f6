"""A repair crew's tickets in a real browser: the speaker, where it is, whether it came back."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import PASSWORD
from tests.console.conftest import console_login, screenshot
from tests.console.offline import OfflineBrowser
from tests.console.scene import DAY, Scene

pytestmark = pytest.mark.browser


def test_a_crew_member_finds_the_speaker_sees_it_came_back_and_the_closed_ones(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    scene = Scene(live_server.url).build(users=(("zhang", "crew", None),))
    scene.form_crew("zhang")
    now = datetime.now(UTC)
    scene.past_outage("SN-11B", "power_cut", now - 5 * DAY, hours=3)  # an earlier, closed one
    for serial in ("SN-11B", "SN-21A"):
        scene.beat(serial, power="battery")
    amp = scene.call("POST", "/api/v1/outages", json={
        "speaker": scene.speakers["SN-11B"]["id"], "cause": "amplifier",
        "note": "村民反映喇叭不响"})["ticket"]
    back = scene.recovered_ticket("SN-21A", "offline", now - timedelta(hours=3),
                                  now - timedelta(minutes=20))
    guard = OfflineBrowser(page_factory)

    phone = guard.open(360, 740)
    console_login(phone, live_server.url, "zhang", PASSWORD)
    phone.click("nav >> text=维修工单")
    cards = phone.locator("a.ticket")
    assert cards.count() == 2
    assert phone.locator(f"a[data-ticket='{back}'] .back-online").inner_text() == "已恢复在线"
    assert phone.locator(f"a[data-ticket='{amp}'] .back-online").count() == 0  # amp still broken
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "crew-ticket-list-360")

    phone.click(f"a[data-ticket='{amp}']")
    assert phone.inner_text("#ticket-speaker h2") == "晒谷场音柱"
    assert phone.inner_text("#ticket-village") == "东一村（东镇）"
    assert "北纬 30.27620°，东经 120.15800°" in phone.inner_text("#ticket-coords")
    geo = phone.get_attribute("#open-map", "href")
    assert geo.startswith("geo:30.276200,120.158000?q=30.276200,120.158000(")
    assert "coordinate=wgs84" in phone.get_attribute("#open-amap", "href")
    assert phone.locator("#open-map").bounding_box()["height"] >= 44  # a thumb can hit it
    assert phone.inner_text("#speaker-status") == "在线"
    assert phone.inner_text("#speaker-power").startswith("电池供电")
    assert re.fullmatch(r"\d\d-\d\d \d\d:\d\d", phone.inner_text("#speaker-heard"))
    history = phone.inner_text("#speaker-history")
    assert "功放故障（人工报告）" in history and "未恢复" in history and "3.0 小时" in history
    assert "断电" in phone.inner_text("#speaker-tickets")  # the earlier ticket, closed
    assert phone.locator("#back-online").count() == 0
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(phone, "crew-ticket-detail-360")

    desk = guard.open(1280, 800)
    console_login(desk, live_server.url, "zhang", PASSWORD)
    desk.goto(f"{live_server.url}/console/tickets/{back}")
    assert "音柱已恢复在线" in desk.inner_text("#back-online")
    assert "终端恢复正常" in desk.inner_text("main")  # the timeline says when
    assert desk.inner_text("#ticket-village") == "西一村（西镇）"
    screenshot(desk, "crew-ticket-back-1280")
    desk.goto(f"{live_server.url}/console/tickets?status=closed")
    closed = desk.locator("a.ticket")
    assert closed.count() == 1 and "已关闭" in closed.inner_text()
    assert "关闭于" in closed.inner_text()
    closed.click()
    assert desk.inner_text("#ticket-status") == "已关闭"
    assert "工单已关闭" in desk.inner_text("#ticket-closed")
    assert desk.locator("#resolve-form").count() == 0
    screenshot(desk, "crew-ticket-closed-1280")
    guard.assert_offline()
