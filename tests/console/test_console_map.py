"""The status map in a real browser: positions, labels, colours by state, at both sizes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from tests.console.conftest import SAME_ORIGIN, console_login, screenshot
from tests.console.offline import OfflineBrowser
from tests.console.scene import Scene

pytestmark = pytest.mark.browser


def test_the_status_map_as_staff_on_a_desk_and_a_crew_member_on_a_phone(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    scene = Scene(live_server.url).build(users=(("li", "staff", "d1"), ("zhang", "crew", None)))
    scene.form_crew("zhang")
    scene.beat("SN-11A")
    scene.beat("SN-11B")
    scene.beat("SN-21A", status="fault", fault="功放无输出")  # heard, but not working
    guard = OfflineBrowser(page_factory)

    desk = guard.open(1280, 800)
    console_login(desk, live_server.url, "li", PASSWORD)
    desk.click("nav >> text=状态地图")
    svg = desk.locator("#status-map")
    box = svg.bounding_box()
    assert box["width"] > 500 and box["height"] > 300  # laid out by its aspect ratio
    states = {d.get_attribute("data-speaker"): d.get_attribute("data-status")
              for d in svg.locator("circle[data-speaker]").all()}
    ids = {serial: scene.speakers[serial]["id"] for serial in scene.speakers}
    assert states == {ids["SN-11A"]: "online", ids["SN-11B"]: "online",
                      ids["SN-12A"]: "offline", ids["SN-21A"]: "fault"}
    rings = {r.get_attribute("data-village"): r.get_attribute("data-state")
             for r in svg.locator("circle[data-village]").all()}
    assert rings == {"v11": "online", "v12": "silent", "v21": "silent"}
    towns = svg.locator("text.map-town").all_text_contents()
    assert sorted(towns) == ["东镇 在线 67%", "西镇 在线 0%"]
    assert sorted(svg.locator("text.map-village").all_text_contents()) == \
        ["东一村 2/2", "东二村 0/1", "西一村 0/1"]
    # Each speaker where its coordinates put it: 西一村 (west, south) left of and below 东二村.
    west = svg.locator(f"circle[data-speaker='{ids['SN-21A']}']").bounding_box()
    east = svg.locator(f"circle[data-speaker='{ids['SN-12A']}']").bounding_box()
    assert west["x"] < east["x"] and west["y"] > east["y"]
    assert desk.locator("#map-towns tr[data-town=t1]").inner_text().count("67%") == 1
    screenshot(desk, "status-map-1280")

    phone = guard.open(360, 740)
    console_login(phone, live_server.url, "zhang", PASSWORD)
    phone.goto(f"{live_server.url}/console/map")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    labels = phone.locator("#status-map text.map-village, #status-map text.map-town")
    visible = [t for t in labels.all() if t.is_visible()]
    assert len(visible) >= 3  # the towns and most villages are named even on a phone
    for text in visible:
        assert float(text.evaluate("t => getComputedStyle(t).fontSize").rstrip("px")) >= 12
    phone.select_option("#map-town", "t1")
    phone.click("form button[type=submit]")
    phone.wait_for_url("**town=t1")
    assert phone.locator("#status-map circle[data-speaker]").count() == 3
    silent = phone.locator("#map-villages tr[data-state=silent]")
    assert silent.count() == 1
    assert "东二村" in silent.inner_text() and "听不到" in silent.inner_text()
    screenshot(phone, "status-map-360")
    guard.assert_offline()


def test_the_map_says_so_when_no_speaker_has_a_position(district, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    client.post("/api/v1/speakers", headers=district.admin,
                json={"serial": "SN-X", "village": "v11", "name": "没坐标"})
    client.post("/console/login", data={"username": "admin", "password": "admin-pass-123"},
                headers=SAME_ORIGIN)
    page = client.get("/console/map")
    assert page.status_code == 200
    assert 'id="map-empty"' in page.text and "1 个音柱未登记经纬度" in page.text
    assert client.get("/console/map?town=t2").status_code == 200
    client.post("/console/logout", headers=SAME_ORIGIN)
    assert client.get("/console/map", follow_redirects=False).status_code == 303
