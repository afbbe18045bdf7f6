"""An urgent broadcast's page: the village counts above the list, and a confirmation to cancel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.conftest import PASSWORD
from tests.console.conftest import console_login, screenshot
from tests.console.offline import OfflineBrowser
from tests.console.scene import Scene

pytestmark = pytest.mark.browser


def _counts(page: object) -> dict[str, str]:
    boxes = page.locator("#village-summary [data-state]")  # type: ignore[attr-defined]
    return {b.get_attribute("data-state"): b.locator(".count").inner_text()
            for b in boxes.all()}


def test_counts_follow_the_villages_and_cancelling_asks_first(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    scene = Scene(live_server.url).build(users=(("li", "staff", "t1"),))
    scene.beat("SN-11A")
    scene.http.headers["Idempotency-Key"] = "fire-1"
    broadcast = scene.call("POST", "/api/v1/broadcasts", json={
        "title": "森林防火紧急通知", "level": 2, "targets": ["t1"],
        "text": "山林起火，请村民不要上山。"})
    [order] = scene.terminal("SN-11A", "GET", "/terminal/v1/program")["orders"]
    guard = OfflineBrowser(page_factory)

    phone = guard.open(360, 740)
    console_login(phone, live_server.url, "li", PASSWORD)
    phone.goto(f"{live_server.url}/console/broadcasts/{broadcast['id']}")
    counts = _counts(phone)  # 东一村 has its order; 东二村's one speaker was never heard
    assert (counts["delivered"], counts["unreachable"], counts["playing"], counts["total"]) == \
        ("1", "1", "0", "2")
    assert phone.locator("#village-summary").bounding_box()["y"] < \
        phone.locator("#villages").bounding_box()["y"]  # above the list
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    scene.terminal("SN-11A", "POST", "/terminal/v1/receipts", json=[
        {"order": order["id"], "event": "started", "at": datetime.now(UTC).isoformat()}])
    phone.wait_for_selector("#village-summary [data-state=playing] .count:text-is('1')")
    assert _counts(phone)["delivered"] == "0"  # updated in place by the page's poll
    phone.click("#cancel-broadcast")
    assert "森林防火紧急通知" in phone.inner_text("#cancel-text")
    assert "2 个村" in phone.inner_text("#cancel-text")
    assert phone.locator("#cancel-yes").bounding_box()["height"] >= 44
    screenshot(phone, "broadcast-cancel-confirm-360")
    phone.click("#cancel-no")
    assert phone.locator("#cancel-confirm").is_hidden()
    assert scene.call("GET", f"/api/v1/broadcasts/{broadcast['id']}")["status"] == "active"

    desk = guard.open(1280, 800)
    console_login(desk, live_server.url, "li", PASSWORD)
    desk.goto(f"{live_server.url}/console/broadcasts/{broadcast['id']}")
    assert _counts(desk)["playing"] == "1"
    desk.click("#cancel-broadcast")
    screenshot(desk, "broadcast-cancel-confirm-1280")
    desk.click("#cancel-yes")
    desk.wait_for_selector("#broadcast-status:text-is('已取消')")
    assert desk.locator("#cancel-broadcast").count() == 0
    assert scene.call("GET", f"/api/v1/broadcasts/{broadcast['id']}")["status"] == "cancelled"
    phone.wait_for_selector("#cancel-broadcast", state="detached")  # the phone's poll saw it
    guard.assert_offline()
