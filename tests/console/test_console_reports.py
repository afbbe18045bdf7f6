"""The as-run log and the reports in a real browser: filters, charts with labels, CSV exports."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from tests.console.conftest import SAME_ORIGIN, console_login, screenshot
from tests.console.offline import OfflineBrowser
from tests.console.scene import DAY, Scene

pytestmark = pytest.mark.browser
TZ = ZoneInfo("Asia/Shanghai")


def _played_broadcast(scene: Scene) -> str:
    """An urgent broadcast to 东一村 that its first speaker reports having played."""
    scene.http.headers["Idempotency-Key"] = "flood-1"
    scene.call("POST", "/api/v1/broadcasts", json={
        "title": "山洪预警", "level": 2, "targets": ["v11"],
        "text": "请注意，上游水库开闸泄洪，沿河村民立即转移。"})
    [order] = scene.terminal("SN-11A", "GET", "/terminal/v1/program")["orders"]
    now = datetime.now(UTC)
    scene.terminal("SN-11A", "POST", "/terminal/v1/receipts", json=[
        {"order": order["id"], "event": "started", "at": now.isoformat()},
        {"order": order["id"], "event": "finished", "at": now.isoformat()}])
    return str(order["id"])


def _csv_of(page: Any, link: str) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.click(link)
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def _fits(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scroll


def test_playlog_and_reports_as_staff_and_reviewer_at_both_sizes(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    scene = Scene(live_server.url).build(users=(("li", "staff", "d1"),
                                                ("wang", "reviewer", "t1")))
    now = datetime.now(UTC)
    heard = ("SN-11A", "SN-11B", "SN-21A")  # SN-12A never was: 东二村 cannot hear
    scene.backdate(10, now, heard)
    scene.past_outage("SN-21A", "power_cut", now - 6 * DAY, hours=30)
    scene.past_outage("SN-11B", "amplifier", now - 3 * DAY, hours=4)
    for serial in heard:
        scene.beat(serial)
    order = _played_broadcast(scene)
    guard = OfflineBrowser(page_factory)

    staff = guard.open(1280, 800)
    console_login(staff, live_server.url, "li", PASSWORD)
    staff.click("nav >> text=播出记录")
    row = staff.locator("#playlog tbody tr[data-result=played]")
    assert row.count() == 1 and "东一村" in row.inner_text() and "山洪预警" in row.inner_text()
    screenshot(staff, "playlog-1280")
    [line] = _csv_of(staff, "#playlog-csv")
    assert (line["order"], line["village"], line["result"]) == (order, "v11", "played")
    staff.select_option("#pl-result", "missed")
    staff.click("form.filters button[type=submit]")
    staff.wait_for_url("**result=missed**")
    assert "没有播出记录" in staff.inner_text("#playlog")

    staff.click("nav >> text=统计报表")
    online = staff.locator("figure[data-chart=online-rate]")
    assert online.locator("polyline").count() >= 2  # a line per town (broken where none)
    legend = online.locator(".chart-legend").inner_text()
    means = {town: float(m) for town, m in re.findall(r"([东西]镇) 平均 ([\d.]+)%", legend)}
    assert 60 < means["东镇"] < 66.7 and 80 < means["西镇"] < 100  # a never heard, a 30 h cut
    assert "100%" in online.inner_text() and "0%" in online.inner_text()
    causes = staff.locator("figure[data-chart=causes]")
    assert "断电（含人为断电）" in causes.inner_text() and "1 次" in causes.inner_text()
    assert staff.locator("figure[data-chart=mttr] polyline").count() >= 1
    assert staff.inner_text("#stat-opened") == "2 / 2"
    assert staff.inner_text("#stat-mttr") == "17.0 / 17.0 小时"  # (30 h + 4 h) / 2
    silent = staff.locator("#coverage tr[data-town=t1]").inner_text()
    assert "3" in silent and "66.7%" in silent  # 东镇: 3 speakers, 2 online
    screenshot(staff, "reports-1280")
    rows = _csv_of(staff, "a[href^='/console/reports/history.csv']")
    assert {r["town"] for r in rows} == {"t1", "t2"} and len(rows) == 2 * 30  # 30 days
    west = {r["from"][:10]: r["online_rate"] for r in rows if r["town"] == "t2"}
    cut = {(now - 6 * DAY + timedelta(hours=h)).astimezone(TZ).date().isoformat()
           for h in (0, 30)}  # the 30-hour power cut, over one or two days
    assert {day for day, rate in west.items() if rate not in ("", "1.0")} == cut
    assert list(west.values())[:19] == [""] * 19  # before the speakers were registered

    reviewer = guard.open(360, 740)
    console_login(reviewer, live_server.url, "wang", PASSWORD)
    reviewer.goto(f"{live_server.url}/console/reports?step=hour")
    hourly = reviewer.locator("figure[data-chart=online-rate]")
    assert "东镇" in hourly.inner_text() and "西镇" not in hourly.inner_text()  # their town
    _fits(reviewer, 360)
    screenshot(reviewer, "reports-360")
    reviewer.goto(f"{live_server.url}/console/playlog")
    assert reviewer.locator("#playlog tbody tr[data-result=played]").count() == 1
    _fits(reviewer, 360)
    screenshot(reviewer, "playlog-360")
    guard.assert_offline()


def test_report_pages_refuse_crews_and_visitors_and_export_for_their_area(  # type: ignore[no-untyped-def]
        district, client: TestClient) -> None:
    from app.console import pages_reports

    for route in pages_reports.router.routes:
        path = route.path.replace("{name}", "coverage")  # type: ignore[attr-defined]
        assert client.get(path, follow_redirects=False).status_code == 303, path
    district.user("fixer", "crew", None)
    client.post("/console/login", data={"username": "fixer", "password": PASSWORD},
                headers=SAME_ORIGIN)
    for path in ("/console/reports", "/console/playlog", "/console/playlog.csv",
                 "/console/reports/history.csv"):
        page = client.get(path)
        assert page.status_code == 403 and "无权" in page.text, path
    assert "统计报表" not in client.get("/console/tickets").text
    client.post("/console/logout", headers=SAME_ORIGIN)
    district.user("west", "staff", "t2")
    client.post("/console/login", data={"username": "west", "password": PASSWORD},
                headers=SAME_ORIGIN)
    download = client.get("/console/reports/coverage.csv")
    assert download.headers["content-disposition"].endswith('coverage.csv"')
    assert [r["code"] for r in csv.DictReader(io.StringIO(download.text.lstrip("\ufeff")))] \
        == ["t2"]
    assert client.get("/console/playlog?area=t1").status_code == 403
    assert client.get("/console/playlog?offset=x&from=nonsense&result=odd").status_code == 200
    assert client.get("/console/reports/nothing.csv").status_code == 422
