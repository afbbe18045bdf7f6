"""The console in a real browser: the pronunciation page, and listening before approving or
sending an urgent broadcast."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from tests.console.conftest import SAME_ORIGIN, console_login, screenshot
from tests.console.test_console_flows import Api

pytestmark = pytest.mark.browser


def test_staff_add_a_pronunciation_and_hear_it_at_once(live_server, page_factory) -> None:  # type: ignore[no-untyped-def]
    api = Api(live_server.url)
    api.district()
    api.user("li", "staff", "t1")
    page = page_factory()
    console_login(page, live_server.url, "li", PASSWORD)
    page.click("nav >> text=读音词表")
    page.wait_for_url(re.compile(r".*/console/pronunciations$"))
    page.fill("#word", "长垄")
    page.fill("#pinyin", "chang2 long3")
    page.select_option("#area", "v11")
    page.fill("#sample", "欢迎来到长垄村")
    page.click("#try-pronunciation")
    page.wait_for_selector("#try-pinyin:not([hidden])", timeout=30_000)
    assert page.inner_text("#try-pinyin") == "huan1 ying2 lai2 dao4 chang2 long3 cun1"
    assert page.get_attribute("#try-audio", "src").startswith("blob:")
    assert page.evaluate("document.querySelector('#try-audio').hidden") is False
    page.fill("#pinyin", "chang2 long")  # a bad reading: the API's words, next to the field
    page.click("#pronunciation-form button[type=submit]")
    page.wait_for_selector(".error[data-for=pinyin]:not(:empty)")
    page.fill("#pinyin", "chang2 long3")
    page.click("#pronunciation-form button[type=submit]")
    page.wait_for_selector("#pronunciations tr[data-word='长垄']")
    assert "chang2 long3" in page.inner_text("#pronunciations")
    screenshot(page, "pronunciations")
    listed = api.http.get("/api/v1/pronunciations", headers=api.headers).json()["items"]
    assert [(e["word"], e["area"], e["created_by"]) for e in listed] == [
        ("长垄", "v11", "user:li")]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#pronunciations button:has-text('删除')")
    page.wait_for_selector("#pronunciations td:has-text('还没有词条')")


def test_a_reviewer_hears_the_script_and_its_pinyin_before_approving(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    api = Api(live_server.url)
    api.district()
    api.user("li", "staff", "t1")
    api.user("wang", "reviewer", "t1")
    api.post("/api/v1/pronunciations", {"word": "长垄", "pinyin": "chang2 long3", "area": "t1"})
    body = "长垄村村民请注意：大家得提前到卫生院接种第2针。"
    ann = api.post("/api/v1/announcements", {"title": "接种通知", "area": "v11", "body": body})
    api.post(f"/api/v1/announcements/{ann['id']}/submit", {})
    reviewer = page_factory()
    console_login(reviewer, live_server.url, "wang", PASSWORD)
    reviewer.goto(f"{live_server.url}/console/announcements/{ann['id']}")
    reviewer.wait_for_selector(".preview[data-preview-ready]", timeout=30_000)  # on its own
    said = reviewer.inner_text("[data-preview-pinyin]")
    assert said.startswith("chang2 long3 cun1")
    assert "dei3 ti2 qian2" in said and "di4 er4 zhen1" in said
    assert reviewer.get_attribute("[data-preview-audio]", "src").startswith("blob:")
    screenshot(reviewer, "announcement-review-preview")
    audio = api.http.get(f"/api/v1/announcements/{ann['id']}", headers=api.headers).json()
    assert audio["audio"] is None  # the preview is not the approved audio


def test_an_urgent_broadcast_is_heard_at_the_confirm_step(live_server, page_factory) -> None:  # type: ignore[no-untyped-def]
    api = Api(live_server.url)
    api.district()
    api.user("li", "staff", "t1")
    page = page_factory()
    console_login(page, live_server.url, "li", PASSWORD)
    page.goto(f"{live_server.url}/console/broadcasts/new")
    page.fill("#title", "山洪预警")
    page.check("#targets input[value=v11]")
    page.fill("#text", "这场大雨将持续到凌晨2点，请沿河村民立即转移。")
    page.click("#broadcast-form button[type=submit]")
    page.wait_for_selector("#confirm-panel", state="visible")
    page.click("#confirm-panel [data-preview-play]")
    page.wait_for_selector("#confirm-panel .preview[data-preview-ready]", timeout=30_000)
    said = page.inner_text("#confirm-panel [data-preview-pinyin]")
    assert said.startswith("zhe4 chang2 da4 yu3") and "ling2 chen2 liang3 dian3" in said
    screenshot(page, "broadcast-confirm-preview")
    listed = api.http.get("/api/v1/broadcasts", headers=api.headers).json()
    assert listed["total"] == 0  # hearing it sent nothing


def test_the_pronunciation_page_needs_a_session_and_a_role(district) -> None:  # type: ignore[no-untyped-def]
    client: TestClient = district.client
    response = client.get("/console/pronunciations", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/console/login")
    district.user("fixer", "crew", None)
    client.post("/console/login", data={"username": "fixer", "password": PASSWORD},
                headers=SAME_ORIGIN)
    page = client.get("/console/pronunciations")
    assert page.status_code == 403 and "无权" in page.text
