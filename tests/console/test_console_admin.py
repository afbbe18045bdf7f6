"""Administration in a real browser: people, crews, a speaker whose terminal connects with the
token the page showed, API keys; a quiet-hours broadcast; the request guard itself."""

from __future__ import annotations

import re
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, PASSWORD, LiveServer
from tests.console.clerk_scene import Scene
from tests.console.conftest import console_login, guard_requests, screenshot

pytestmark = pytest.mark.browser


def _confirm_inline(page: Any) -> None:
    """Answer the in-page question a button asked (never a browser dialog)."""
    page.click(".inline-ask button[type=submit]")


def _save(page: Any, button: str) -> None:
    """Click a form's save button and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(button)


def _no_sideways_scroll(page: Any, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width, page.url


def _status_of(base_url: str, token: str) -> int:
    return httpx.get(f"{base_url}/terminal/v1/program",
                     headers={"Authorization": f"Bearer {token}"}).status_code


def _setup_line(page: Any) -> tuple[str, str]:
    """The server and token of the `cunxiang terminal` line the page shows."""
    page.wait_for_selector("#token-panel", state="visible")
    words = shlex.split(page.inner_text("#setup-line"))
    assert words[:2] == ["cunxiang", "terminal"]
    return words[words.index("--server") + 1], words[words.index("--token") + 1]


def test_an_admin_on_a_phone_adds_people_a_crew_a_speaker_and_an_api_key(  # type: ignore[no-untyped-def]
        live_server, page_factory, tmp_path) -> None:
    from tests.terminal.helpers import TerminalProcess

    api = Scene(live_server.url).district()
    phone = page_factory(width=360, height=740)
    dialogs: list[str] = []
    phone.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    console_login(phone, live_server.url, "admin", ADMIN_PASSWORD)

    # A crew member's login: created, given a new password, disabled and enabled again.
    phone.goto(f"{live_server.url}/console/users")
    phone.fill("#new-name", "张师傅")
    phone.fill("#new-username", "zhang")
    phone.select_option("#new-role", "crew")
    phone.fill("#new-password", "first-pass-1")
    phone.click("#user-form button[type=submit]")
    phone.wait_for_url(re.compile(r".*/console/users/zhang\?saved=1$"))
    assert phone.inner_text("h1").startswith("张师傅")
    phone.fill("#password", "second-pass-2")
    _save(phone, "#password-form button[type=submit]")
    zhang = Scene(live_server.url, "zhang", "second-pass-2")
    assert zhang.get("/api/v1/auth/me")["name"] == "zhang"
    phone.click("#disable")
    _confirm_inline(phone)
    phone.wait_for_selector("#user-state:has-text('已停用')")
    refused = httpx.post(f"{live_server.url}/api/v1/auth/token",
                         json={"username": "zhang", "password": "second-pass-2"})
    assert refused.status_code == 401
    phone.click("#enable")
    phone.wait_for_selector("#user-state:has-text('正常')")
    _no_sideways_scroll(phone, 360)
    screenshot(phone, "admin-user-360")

    # A crew serving 东镇 with 张师傅; then 西镇 too.
    phone.goto(f"{live_server.url}/console/crews")
    phone.fill("#crew-name", "东镇维修队")
    phone.check("input[name=towns][value=t1]")
    phone.check("input[name=members][value=zhang]")
    phone.click("#crew-form button[type=submit]")
    phone.wait_for_url(re.compile(r".*/console/crews/\w+\?saved=1$"))
    crew_id = phone.url.split("/")[-1].split("?")[0]
    assert "张师傅" in phone.inner_text("main") and "东镇" in phone.inner_text("main")
    phone.check("input[name=towns][value=t2]")
    _save(phone, "#crew-form button[type=submit]")
    crew = api.get(f"/api/v1/crews/{crew_id}")
    assert sorted(crew["towns"]) == ["t1", "t2"] and crew["members"] == ["zhang"]
    _no_sideways_scroll(phone, 360)

    # A speaker: its token is shown once as the line that starts its terminal, which connects.
    phone.goto(f"{live_server.url}/console/speakers/new")
    phone.fill("#serial", "SN-7")
    phone.fill("#sp-name", "村口喇叭")
    phone.select_option("#village", "v11")
    phone.fill("#location", "东一村村委会楼顶")
    phone.click("#speaker-form button[type=submit]")
    server, token = _setup_line(phone)
    assert server == live_server.url and token.startswith("cxt_")
    _no_sideways_scroll(phone, 360)
    screenshot(phone, "speaker-token-360")
    phone.click("#speaker-link")
    speaker_url = phone.url
    terminal = TerminalProcess(server, token, tmp_path / "cache", "--dry-run", "--heartbeat", "1")
    try:
        terminal.wait_for("program", timeout=30)
        for _ in range(40):  # heartbeats every second; the page reads them fresh
            phone.goto(speaker_url)
            if phone.inner_text("#speaker-status") == "在线":
                break
            phone.wait_for_timeout(250)
        assert phone.inner_text("#speaker-status") == "在线"
        shown = phone.inner_text("main")
        assert "东一村" in shown and "东一村村委会楼顶" in shown

        # A new token: the old one stops at once, the new one works.
        phone.click("#rotate-token")
        phone.click("#rotate-confirm")
        _, new_token = _setup_line(phone)
        assert new_token != token
        assert _status_of(live_server.url, token) == 401
        assert _status_of(live_server.url, new_token) == 200
    finally:
        terminal.stop()

    # Moved to 东二村, then retired (asked in the page).
    phone.select_option("#speaker-move select", "v12")
    _save(phone, "#speaker-move button[type=submit]")
    speaker_id = speaker_url.split("/")[-1]
    assert api.get(f"/api/v1/speakers/{speaker_id}")["village"] == "v12"
    phone.click("#retire")
    _confirm_inline(phone)
    phone.wait_for_url(f"{live_server.url}/console/speakers")
    api.call("GET", f"/api/v1/speakers/{speaker_id}", expect=404)

    # An API key: shown once, it works until it is revoked.
    phone.goto(f"{live_server.url}/console/api-keys")
    phone.fill("#key-name", "区应急指挥中心")
    phone.check("input[name=scopes][value='areas:read']")
    phone.click("#key-form button[type=submit]")
    phone.wait_for_selector("#key-created", state="visible")
    key = phone.inner_text("#key-secret").strip()
    assert key.startswith("cxk_")
    with_key = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{live_server.url}/api/v1/areas", headers=with_key).status_code == 200
    _no_sideways_scroll(phone, 360)
    phone.goto(f"{live_server.url}/console/api-keys")
    assert key not in phone.content()  # never shown again
    phone.click("button.revoke")
    _confirm_inline(phone)
    phone.wait_for_selector("text=已吊销")
    assert httpx.get(f"{live_server.url}/api/v1/areas", headers=with_key).status_code == 401
    screenshot(phone, "api-keys-360")
    assert dialogs == []


def test_a_quiet_hours_broadcast_says_when_it_starts_and_lives_an_hour_from_then(  # type: ignore[no-untyped-def]
        env, page_factory) -> None:
    from zoneinfo import ZoneInfo

    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(second=0, microsecond=0)
    quiet_end = now + timedelta(hours=2)
    server = LiveServer(env, {"CUNXIANG_QUIET_HOURS":
                              f"{now - timedelta(hours=1):%H:%M}-{quiet_end:%H:%M}"}).start()
    try:
        api = Scene(server.url).district()
        api.user("li", "staff", "t1", "李明")
        page = page_factory()
        console_login(page, server.url, "li", PASSWORD)
        page.goto(f"{server.url}/console/broadcasts/new")
        page.fill("#title", "森林防火提醒")
        page.select_option("#level", "3")
        page.check("#targets input[value=t1]")
        page.fill("#text", "近期天气干燥，上山严禁带火种。")
        page.click("#broadcast-form button[type=submit]")
        page.wait_for_selector("#confirm-deferred", state="visible")
        notice = page.inner_text("#confirm-deferred")
        assert f"静默时段结束时于 {quiet_end:%H:%M} 开始播出" in notice
        screenshot(page, "broadcast-confirm-quiet-hours")
        page.click("#confirm-send")
        page.wait_for_url(re.compile(r".*/console/broadcasts/brd_\w+$"))
        expires = quiet_end + timedelta(hours=1)
        shown = page.inner_text("main")
        assert f"开始 {quiet_end:%m-%d %H:%M} · 截止 {expires:%m-%d %H:%M}" in shown
        assert page.inner_text("#broadcast-status") == "进行中"
        [made] = api.get("/api/v1/broadcasts")["items"]
        assert made["status"] == "active"
        starts = datetime.fromisoformat(made["start_at"])
        assert starts == quiet_end.astimezone(UTC)
        assert datetime.fromisoformat(made["expires_at"]) == starts + timedelta(hours=1)

        # Level II does not wait: the confirmation says nothing about quiet hours.
        page.goto(f"{server.url}/console/broadcasts/new")
        page.fill("#title", "山洪预警")
        page.select_option("#level", "2")
        page.check("#targets input[value=v11]")
        page.fill("#text", "请立即转移。")
        page.click("#broadcast-form button[type=submit]")
        page.wait_for_selector("#confirm-panel", state="visible")
        assert not page.is_visible("#confirm-deferred")
    finally:
        server.stop()


def test_the_request_guard_refuses_and_reports_any_other_host(browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context()
    outside = guard_requests(context)
    try:
        page = context.new_page()
        page.route("http://127.0.0.1:9/**", lambda route: route.fulfill(
            body="<p>本机</p>", content_type="text/html; charset=utf-8"))
        page.goto("http://127.0.0.1:9/page")
        page.evaluate("""() => Promise.allSettled([
            fetch("http://203.0.113.7/track.js"), fetch("https://fonts.example.com/a.woff2")])""")
        assert page.inner_text("p") == "本机"
    finally:
        context.close()
    assert outside == ["http://203.0.113.7/track.js", "https://fonts.example.com/a.woff2"]
