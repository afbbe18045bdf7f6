"""Every console page as each role, at 1280×800 and 360×740; lists longer than one page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD, PASSWORD
from tests.console.clerk_scene import Scene
from tests.console.conftest import console_login, screenshot

pytestmark = pytest.mark.browser

SIZES = ((1280, 800), (360, 740))
CODES = re.compile(r"\b(?:v11|v12|v21|t1|t2|d1)\b")  # area codes belong on hover, not in text


def _scene(api: Scene) -> dict[str, str]:
    api.district()
    api.user("li", "staff", "t1", "李明")
    api.user("wang", "reviewer", "t1", "王芳")
    api.user("zhang", "crew", None, "张师傅")
    li = api.as_user("li")
    for number in range(60):
        li.post("/api/v1/announcements", {"title": f"村务通知第{number + 1:02d}号",
                                          "body": "请各位村民留意。", "area": "t1"})
    straw = li.post("/api/v1/announcements", {"title": "秸秆禁烧通知", "body": "严禁焚烧秸秆。",
                                              "area": "t1", "category": "安全"})
    li.call("POST", f"/api/v1/announcements/{straw['id']}/submit")
    playlist = li.post("/api/v1/playlists", {"name": "早间广播", "area": "t1",
                                             "items": [{"silence_ms": 1500}]})
    schedule = li.post("/api/v1/schedules", {"name": "东镇早间", "playlist": playlist["id"],
                                             "targets": ["t1"], "times": ["07:00"]})
    crew = api.post("/api/v1/crews", {"name": "东镇维修队", "towns": ["t1"],
                                      "members": ["zhang"]})
    speakers = [api.post("/api/v1/speakers", {
        "serial": f"SN-{n:03d}", "village": "v11" if n % 2 else "v12", "name": f"{n}号喇叭",
        "location": "村委会楼顶"}) for n in range(55)]
    api.post("/api/v1/outages", {"speaker": speakers[0]["id"], "cause": "amplifier"})
    [ticket] = api.get("/api/v1/tickets")["items"]
    return {"announcement": straw["id"], "playlist": playlist["id"],
            "schedule": schedule["id"], "crew": crew["id"], "speaker": speakers[0]["id"],
            "ticket": ticket["id"]}


def _pages(ids: dict[str, str]) -> dict[str, list[str]]:
    return {
        "admin": ["/console/", "/console/users", "/console/users/li", "/console/crews",
                  f"/console/crews/{ids['crew']}", "/console/api-keys", "/console/speakers",
                  "/console/speakers/new", f"/console/speakers/{ids['speaker']}"],
        "li": ["/console/", "/console/announcements", "/console/announcements/new",
               f"/console/announcements/{ids['announcement']}", "/console/playlists",
               "/console/playlists/new", f"/console/playlists/{ids['playlist']}",
               "/console/schedules", "/console/schedules/new",
               f"/console/schedules/{ids['schedule']}", "/console/broadcasts",
               "/console/broadcasts/new", "/console/tickets"],
        "wang": ["/console/", "/console/announcements",
                 f"/console/announcements/{ids['announcement']}", "/console/playlists",
                 "/console/schedules"],
        "zhang": ["/console/", "/console/tickets", f"/console/tickets/{ids['ticket']}",
                  "/console/crews"],
    }


def _visit_all(page: Any, base_url: str, who: str, paths: list[str], width: int) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    console_login(page, base_url, who, ADMIN_PASSWORD if who == "admin" else PASSWORD)
    for path in paths:
        page.goto(base_url + path)
        assert page.locator("h1").first.is_visible(), path
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (who, path)
        assert not CODES.search(page.inner_text("main")), (who, path)
        if width < 480 or path == paths[1]:  # every page on the phone, one per role on desktop
            slug = path.replace("/console", "").strip("/").replace("/", "-") or "dashboard"
            slug = re.sub(r"[a-z]+_[0-9a-z]{16,}", "detail", slug)  # the same name every run
            screenshot(page, f"{who}-{slug}-{width}")
    assert errors == [], errors


def test_every_page_as_each_role_on_both_screens_and_lists_beyond_fifty(  # type: ignore[no-untyped-def]
        live_server, page_factory) -> None:
    api = Scene(live_server.url)
    ids = _scene(api)
    for width, height in SIZES:
        for who, paths in _pages(ids).items():
            _visit_all(page_factory(width, height), live_server.url, who, paths, width)

    # 61 announcements: 50 on the first page, the rest on the next; a search finds one.
    page = page_factory(360, 740)
    console_login(page, live_server.url, "li", PASSWORD)
    page.goto(f"{live_server.url}/console/announcements")
    assert page.inner_text("#pager-range").startswith("第 1–50 条，共 61 条")
    assert page.locator("table.list tbody tr").count() == 50
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r".*offset=50$"))
    assert page.inner_text("#pager-range").startswith("第 51–61 条，共 61 条")
    assert page.locator("table.list tbody tr").count() == 11
    assert page.locator("a[rel=next]").count() == 0 and page.locator("a[rel=prev]").count() == 1
    page.fill("input[name=q]", "秸秆")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url(re.compile(r".*q=.*"))
    found = page.locator("table.list tbody td:first-child a").all_inner_texts()
    assert [title.strip() for title in found] == ["秸秆禁烧通知"]

    # 55 speakers: the second page holds 5, the filters kept in its links.
    page.goto(f"{live_server.url}/console/speakers?q=喇叭")
    page.click("a[rel=next]")
    page.wait_for_url(re.compile(r".*q=.*offset=50$"))
    assert page.locator("table.list tbody tr").count() == 5

    _api_errors_read_alike(api, page)


def _api_errors_read_alike(api: Scene, page: Any) -> None:
    """The browser shows an API error in the same Chinese as the server's pages do."""
    from app.console.i18n import translate_error

    answers = [
        api.http.post("/api/v1/announcements", headers=api.headers,
                      json={"title": "", "body": "x" * 20001, "area": "t1"}),
        api.http.post("/api/v1/schedules", headers=api.headers,
                      json={"name": "夜间", "playlist": "pl_9", "targets": ["t1"],
                            "times": ["23:00"]}),
        api.http.post("/api/v1/speakers", headers=api.headers,
                      json={"serial": "SN 1", "village": "t1"}),
        api.http.post("/api/v1/users", headers=api.headers,
                      json={"username": "x", "password": "short", "role": "boss"}),
        api.http.post("/api/v1/crews", headers=api.headers,
                      json={"name": "队", "towns": ["v11"], "members": ["no1"]}),
        api.http.get("/api/v1/tickets/tk_9", headers=api.headers),
        api.http.post("/api/v1/broadcasts", headers=api.headers,
                      json={"title": "演练", "level": 1, "targets": ["q9"], "text": "测试"}),
        api.http.post("/api/v1/speakers", headers=api.headers,
                      json={"serial": "SN-000", "village": "v11"}),
    ]
    for answer in answers:
        body, status = answer.json(), answer.status_code
        assert status >= 400, body
        in_browser = page.evaluate("([body, status]) => cxI18n.error(body, status)",
                                   [body, status])
        assert in_browser == translate_error(body, status), body
        assert not re.search(r"[A-Za-z]{4,}", in_browser), in_browser


