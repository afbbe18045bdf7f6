"""The console in a real browser: the content workflow, a crew's phone view, and refusals."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, PASSWORD
from tests.console.conftest import SAME_ORIGIN, console_login, screenshot

pytestmark = pytest.mark.browser


class Api:
    """A small API client for setting the scene of a browser test."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)
        token = self.http.post("/api/v1/auth/token",
                               json={"username": "admin", "password": ADMIN_PASSWORD}).json()
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def get(self, path: str) -> Any:
        response = self.http.get(path, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Any) -> Any:
        response = self.http.post(path, json=body, headers=self.headers)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def district(self) -> None:
        for code, name, level, parent in [("d1", "青山区", "district", None),
                                          ("t1", "东镇", "town", "d1"),
                                          ("t2", "西镇", "town", "d1"),
                                          ("v11", "东一村", "village", "t1"),
                                          ("v21", "西一村", "village", "t2")]:
            self.post("/api/v1/areas", {"code": code, "name": name, "level": level,
                                        "parent": parent})

    def user(self, username: str, role: str, area: str | None) -> None:
        self.post("/api/v1/users", {"username": username, "password": PASSWORD, "role": role,
                                    "area": area})


def test_write_review_schedule_and_see_it_in_the_village_calendar(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    api = Api(live_server.url)
    api.district()
    api.user("li", "staff", "t1")
    api.user("wang", "reviewer", "t1")

    staff = page_factory()
    console_login(staff, live_server.url, "li", PASSWORD)
    staff.goto(f"{live_server.url}/console/announcements/new")
    staff.fill("#title", "秸秆禁烧通知")
    staff.fill("#body", "各位村民：秋收期间严禁焚烧秸秆，举报电话12345。")
    assert "字" in staff.inner_text("#body-stats") and "约" in staff.inner_text("#body-stats")
    screenshot(staff, "announcement-new")
    staff.click("button[type=submit]")
    staff.wait_for_url(re.compile(r".*/console/announcements/ann_\w+$"))
    detail_url = staff.url
    staff.click("button:has-text('提交审核')")
    staff.wait_for_selector("#status:has-text('待审核')")

    # The reviewer finds it waiting on the dashboard and sends it back with a reason typed in
    # the page (no browser prompt).
    reviewer = page_factory()
    dialogs: list[str] = []
    reviewer.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    console_login(reviewer, live_server.url, "wang", PASSWORD)
    assert reviewer.inner_text("#stat-review") == "1"
    reviewer.click("#review-queue >> text=秸秆禁烧通知")
    reviewer.click("#reject")
    reviewer.fill(".inline-ask textarea", "请写明举报电话的区号")
    screenshot(reviewer, "announcement-reject-reason")
    reviewer.click(".inline-ask button[type=submit]")
    reviewer.wait_for_selector("#status:has-text('已驳回')")
    assert dialogs == []

    # The author reads why, writes a new revision and submits it again; now it is approved.
    staff.reload()
    assert "驳回理由：请写明举报电话的区号" in staff.inner_text("main")
    staff.fill("#body", "各位村民：秋收期间严禁焚烧秸秆，举报电话0571-12345。")
    staff.click("button:has-text('保存为新版本')")
    staff.wait_for_selector("#status:has-text('草稿')")
    assert "第 2 版" in staff.inner_text("main")
    staff.click("button:has-text('提交审核')")
    staff.wait_for_selector("#status:has-text('待审核')")
    reviewer.goto(detail_url)
    reviewer.click("text=审核通过")
    reviewer.wait_for_selector("#status:has-text('已通过')")
    reviewer.wait_for_selector("audio#player", timeout=60_000)  # the page reloads until rendered
    screenshot(reviewer, "announcement-approved")

    # A playlist: the announcement and a pause, reordered, gaps in seconds, each item heard.
    staff.goto(f"{live_server.url}/console/playlists/new")
    staff.fill("#pl-name", "秋季宣传")
    staff.click("#pl-choices li:has-text('秸秆禁烧通知') button.add")
    staff.fill("#pl-silence", "1.5")
    staff.click("#pl-add-silence")
    staff.click("#pl-items li[data-kind=silence] button[data-move='-1']")  # the pause first
    staff.fill("#pl-gap", "1.2")
    staff.click("#pl-save")
    staff.wait_for_url(re.compile(r".*/console/playlists/pl_\w+\?saved=1$"))
    playlist_id = staff.url.split("/")[-1].split("?")[0]
    saved = api.get(f"/api/v1/playlists/{playlist_id}")
    assert saved["gap_ms"] == 1200 and saved["items"][0] == {"silence_ms": 1500}
    assert list(saved["items"][1]) == ["announcement"]
    seconds = staff.evaluate("""() => new Promise((done) => {
        const audio = document.querySelector("#pl-items li[data-kind=announcement] audio");
        audio.preload = "metadata";
        audio.addEventListener("loadedmetadata", () => done(audio.duration));
        audio.load(); })""")
    assert seconds > 2  # the approved revision's audio, playable in the page
    staff.click("#pl-items li[data-kind=announcement] button[data-move='-1']")  # edit: reorder
    with staff.expect_navigation():
        staff.click("#pl-save")
    assert list(api.get(f"/api/v1/playlists/{playlist_id}")["items"][0]) == ["announcement"]
    screenshot(staff, "playlist-edit")

    # A schedule: quiet hours are refused in Chinese beside the field, then it is saved.
    staff.goto(f"{live_server.url}/console/schedules/new?playlist={playlist_id}")
    staff.fill("#name", "秋季每日广播")
    staff.check("#targets input[value=t1]")
    staff.fill("#times", "23:00")
    staff.click("#schedule-save")
    refusal = staff.locator(".flash.error").first
    refusal.wait_for()
    assert "静默时段" in refusal.inner_text() and "quiet" not in refusal.inner_text()
    screenshot(staff, "schedule-quiet-hours")
    staff.fill("#times", "07:00, 12:00, 18:30")
    staff.fill("#loop", "2")
    staff.click("#schedule-save")
    staff.wait_for_url(re.compile(r".*/console/schedules/sch_\w+\?saved=1$"))
    schedule_id = staff.url.split("/")[-1].split("?")[0]
    screenshot(staff, "schedule-edit")

    staff.goto(f"{live_server.url}/console/villages/v11/calendar")
    staff.click("text=下一周")  # a whole week ahead: three times a day, every day
    staff.wait_for_url(re.compile(r".*week=.*"))
    entries = staff.locator(".calendar-entry")
    assert entries.count() == 21
    assert staff.locator(".calendar-entry:has-text('07:00')").count() == 7
    assert staff.locator(".calendar-entry:has-text('18:30')").count() == 7
    screenshot(staff, "village-calendar")

    # Edit it: every hour from 08:00 to 10:00 on working days, for a date range; then disable.
    staff.goto(f"{live_server.url}/console/schedules/{schedule_id}")
    staff.check("input[name=kind][value=every]")
    staff.fill("#every_minutes", "60")
    staff.fill("#window-start", "08:00")
    staff.fill("#window-end", "10:00")
    staff.click("button[data-days='mon tue wed thu fri']")
    staff.fill("#start_date", "2030-03-01")
    staff.fill("#end_date", "2030-06-30")
    with staff.expect_navigation():
        staff.click("#schedule-save")
    edited = api.get(f"/api/v1/schedules/{schedule_id}")
    assert (edited["times"], edited["every_minutes"], edited["window"]) == (
        None, 60, ["08:00", "10:00"])
    assert edited["days"] == ["mon", "tue", "wed", "thu", "fri"]
    assert (edited["start_date"], edited["end_date"]) == ("2030-03-01", "2030-06-30")
    staff.goto(f"{live_server.url}/console/schedules")
    staff.click(f"tr[data-id={schedule_id}] button.toggle")
    staff.wait_for_selector(f"tr[data-id={schedule_id}] .badge:has-text('停用')")
    assert api.get(f"/api/v1/schedules/{schedule_id}")["enabled"] is False

    # Deleting: the playlist is still used (refused, in Chinese); the schedule goes first.
    staff.goto(f"{live_server.url}/console/playlists/{playlist_id}")
    staff.click("#pl-delete")
    staff.click(".inline-ask button[type=submit]")
    refused = staff.locator(".inline-ask .error")
    refused.filter(has_text="播单仍在使用").wait_for()
    assert "秋季每日广播" in refused.inner_text()
    staff.goto(f"{live_server.url}/console/schedules/{schedule_id}")
    staff.click("#schedule-delete")
    with staff.expect_navigation():
        staff.click(".inline-ask button[type=submit]")
    staff.goto(f"{live_server.url}/console/playlists/{playlist_id}")
    staff.click("#pl-delete")
    with staff.expect_navigation():
        staff.click(".inline-ask button[type=submit]")
    assert staff.url == f"{live_server.url}/console/playlists"
    assert api.http.get(f"/api/v1/playlists/{playlist_id}",
                        headers=api.headers).status_code == 404
    assert dialogs == []


def test_a_crew_member_claims_and_resolves_a_ticket_on_a_phone(live_server, page_factory) -> None:  # type: ignore[no-untyped-def]
    api = Api(live_server.url)
    api.district()
    api.user("zhang", "crew", None)
    api.post("/api/v1/crews", {"name": "东镇维修队", "towns": ["t1"], "members": ["zhang"]})
    speaker = api.post("/api/v1/speakers", {"serial": "SN-001", "village": "v11",
                                            "lat": 30.1, "lon": 120.1})
    api.post("/api/v1/outages", {"speaker": speaker["id"], "cause": "amplifier",
                                 "note": "村民反映喇叭不响"})

    phone = page_factory(width=360, height=740)
    console_login(phone, live_server.url, "zhang", PASSWORD)
    phone.goto(f"{live_server.url}/console/tickets")
    cards = phone.locator("a.ticket")
    assert cards.count() == 1
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    screenshot(phone, "crew-tickets-360")
    cards.first.click()
    claim = phone.locator("#claim")
    assert claim.bounding_box()["height"] >= 44  # large touch target
    claim.click()
    phone.wait_for_selector("#ticket-status:has-text('处理中')")
    phone.select_option("#cause", "amplifier")
    phone.fill("#resolution", "更换功放模块，试播正常")
    phone.click("#resolve-form button[type=submit]")
    phone.wait_for_selector("#ticket-status:has-text('已修复待确认')")
    assert "更换功放模块" in phone.inner_text("main")
    screenshot(phone, "crew-ticket-resolved-360")


def _console_routes(app: Any) -> list[str]:
    from app.console import pages_admin, pages_content, pages_edit, pages_ops, router

    public = ("/console/login", "/console/i18n.js")  # the translation table is no secret
    paths = []
    for module in (router, pages_content, pages_ops, pages_edit, pages_admin):
        for route in module.router.routes:
            if "GET" in getattr(route, "methods", ()) and route.path not in public:
                paths.append(route.path)
    return paths


def test_every_console_page_refuses_visitors_without_a_session(app, client: TestClient) -> None:  # type: ignore[no-untyped-def]
    paths = _console_routes(app)
    assert len(paths) >= 25
    for path in paths:
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        response = client.get(concrete, follow_redirects=False)
        assert response.status_code in (303, 401), (path, response.status_code)
        if response.status_code == 303:
            assert response.headers["location"].startswith("/console/login")


def test_console_pages_refuse_users_outside_their_area_or_role(district) -> None:  # type: ignore[no-untyped-def]
    client, admin = district.client, district.admin
    created = client.post("/api/v1/announcements", headers=admin,
                          json={"title": "东镇通知", "body": "通知内容。", "area": "t1"}).json()
    district.user("west", "staff", "t2")
    district.user("fixer", "crew", None)
    client.post("/console/login", headers=SAME_ORIGIN,
                data={"username": "west", "password": PASSWORD})
    assert client.get(f"/console/announcements/{created['id']}").status_code == 403
    assert client.get("/console/villages/v11/calendar").status_code == 403
    assert client.get("/console/speakers?town=t1").status_code == 403
    assert client.get("/console/villages/v21/calendar").status_code == 200
    client.post("/console/logout", headers=SAME_ORIGIN)
    client.post("/console/login", headers=SAME_ORIGIN,
                data={"username": "fixer", "password": PASSWORD})
    page = client.get("/console/announcements")
    assert page.status_code == 403 and "无权" in page.text
    assert client.get("/console/broadcasts/new").status_code == 403


def test_an_urgent_broadcast_from_the_form_shows_the_terminal_playing_it(  # type: ignore[no-untyped-def]
        live_server, page_factory, tmp_path) -> None:
    from tests.terminal.helpers import TerminalProcess

    api = Api(live_server.url)
    api.district()
    api.user("li", "staff", "t1")
    speaker = api.post("/api/v1/speakers", {"serial": "SN-101", "village": "v11",
                                            "lat": 30.2, "lon": 120.3})
    terminal = TerminalProcess(live_server.url, speaker["token"], tmp_path / "cache", "--dry-run")
    try:
        page = page_factory()
        console_login(page, live_server.url, "li", PASSWORD)
        page.goto(f"{live_server.url}/console/broadcasts/new")
        page.fill("#title", "山洪预警")
        page.select_option("#level", "2")
        page.check("#targets input[value=v11]")
        page.fill("#text", "请注意，上游水库开闸泄洪，沿河村民立即转移到高处。")
        page.click("#broadcast-form button[type=submit]")
        page.wait_for_selector("#confirm-panel", state="visible")
        confirm = page.inner_text("#confirm-text")
        assert "1 个村" in confirm and "1 个音柱" in confirm
        screenshot(page, "broadcast-confirm")
        page.click("#confirm-send")
        page.wait_for_url(re.compile(r".*/console/broadcasts/\w+$"))
        assert page.inner_text('tr[data-village="v11"] td >> nth=0') == "东一村"
        row = page.locator('tr[data-village="v11"] .village-state')
        row.filter(has_text=re.compile("播放中|已播放")).wait_for(timeout=30_000)
        terminal.wait_for("play", timeout=5)
        screenshot(page, "broadcast-status")
    finally:
        terminal.stop()
