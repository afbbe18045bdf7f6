"""The schedules API: create, read, change, list; its checks; scoping and the audit log."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import time_machine
from fastapi.testclient import TestClient

from tests.conftest import District
from tests.schedules.conftest import Content

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_5AM = datetime(2025, 1, 6, 5, 0, tzinfo=SHANGHAI)


def post(client: TestClient, headers: dict[str, str], **body: object):  # type: ignore[no-untyped-def]
    """POST /api/v1/schedules."""
    return client.post("/api/v1/schedules", headers=headers, json=body)


def test_a_time_inside_quiet_hours_is_refused_naming_the_time(
    client: TestClient, admin: dict[str, str], district: District,
) -> None:
    response = post(client, admin, name="深夜", playlist="pl_none", targets=["v11"],
                    times=["06:30", "22:30"])
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "quiet_hours" and body["times"] == ["22:30"]
    assert "22:30" in body["detail"] and "22:00-06:00" in body["detail"]

    response = post(client, admin, name="整点", playlist="pl_none", targets=["v11"],
                    every_minutes=60, window=["20:00", "23:00"])
    assert response.status_code == 422
    assert response.json()["times"] == ["22:00", "23:00"]


def _still_rendering(announcement_id: str) -> None:
    """Put the announcement's approved audio back to "rendering" (as just after approval)."""
    from sqlalchemy import update

    from app.announcements.models import Revision
    from app.db import session_scope

    with session_scope() as session:
        session.execute(update(Revision).where(Revision.announcement_id == announcement_id)
                        .values(audio_status="pending", audio_sha256=None))


def test_slots_conflict_before_their_audio_is_rendered(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    """Scheduling straight after approval: the slot's length comes from the text until the
    audio exists (40 characters: about 10 s)."""
    announcement = content.announcement(
        "各位村民请注意，今天下午三点在村委会召开防汛会议，" "请准时参加会议。谢谢配合")
    _still_rendering(announcement)
    playlist = content.playlist({"announcement": announcement})
    assert playlist["duration_ms"] == 0 and playlist["status"] == "pending"
    with time_machine.travel(MONDAY_5AM, tick=False):
        assert post(client, admin, name="东镇早间", playlist=playlist["id"], targets=["t1"],
                    times=["07:00"]).status_code == 201
        clash = post(client, admin, name="东一村", playlist=playlist["id"], targets=["v11"],
                     times=["07:00"])
        assert clash.status_code == 409 and clash.json()["error"] == "schedule_conflict"
        assert post(client, admin, name="东一村稍后", playlist=playlist["id"], targets=["v11"],
                    times=["07:01"]).status_code == 201


def test_the_estimated_slot_counts_chimes_and_gaps_too(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    """230 characters are about 57.5 s of speech; with the two chimes (about 1.9 s each)
    and the gaps between them (0.8 s) the slot runs past the next minute."""
    announcement = content.announcement("请" * 229 + "。")
    _still_rendering(announcement)
    framed = client.post("/api/v1/playlists", headers=admin, json={
        "name": "带提示音", "area": "d1", "items": [{"announcement": announcement}],
        "chime": "default", "gap_ms": 800})
    assert framed.status_code == 201, framed.text
    with time_machine.travel(MONDAY_5AM, tick=False):
        assert post(client, admin, name="七点", playlist=framed.json()["id"], targets=["v11"],
                    times=["07:00"]).status_code == 201
        clash = post(client, admin, name="七点零一", playlist=framed.json()["id"],
                     targets=["v11"], times=["07:01"])
        assert clash.status_code == 409, clash.text


def test_an_invalid_rule_is_refused_with_the_reason(
    client: TestClient, admin: dict[str, str], district: District,
) -> None:
    cases = [
        ({"times": ["7:00", "25:00"]}, "25:00"),
        ({"times": ["07:00"], "every_minutes": 30, "window": ["07:00", "09:00"]}, "either"),
        ({"every_minutes": 30}, "window"),
        ({"times": ["07:00"], "start_date": "2025-02-01", "end_date": "2025-01-01"}, "before"),
        ({"times": []}, "at least one"),
    ]
    for rule, words in cases:
        response = post(client, admin, name="坏规则", playlist="pl_none", targets=["v11"], **rule)
        assert response.status_code == 422, (rule, response.text)
        assert words in response.json()["detail"], (rule, response.text)
    response = post(client, admin, name="坏日子", playlist="pl_none", targets=["v11"],
                    times=["07:00"], days=["monday"])
    assert response.status_code == 422 and response.json()["error"] == "validation_error"


def test_unknown_playlist_or_target_is_422_and_a_target_outside_ones_area_403(
    client: TestClient, admin: dict[str, str], district: District, content: Content,
) -> None:
    playlist = content.ready_playlist()
    response = post(client, admin, name="无节目", playlist="pl_missing", targets=["v11"],
                    times=["07:00"])
    assert (response.status_code, response.json()["error"]) == (422, "unknown_playlist")
    response = post(client, admin, name="无村", playlist=playlist["id"], targets=["v99"],
                    times=["07:00"])
    assert (response.status_code, response.json()["error"]) == (422, "unknown_target")
    assert response.json()["targets"] == ["v99"]

    east = district.user("east", "staff", "t1")
    response = post(client, east, name="越界", playlist=playlist["id"], targets=["v11", "v21"],
                    times=["07:00"])
    assert response.status_code == 403 and "v21" in response.json()["detail"]
    # Only a playlist of one's own area may be scheduled (this one is the district's).
    response = post(client, east, name="别人的节目", playlist=playlist["id"], targets=["v11"],
                    times=["07:00"])
    assert response.status_code == 403 and playlist["id"] in response.json()["detail"]
    own = content.ready_playlist(area="t1")
    assert post(client, east, name="自己的节目", playlist=own["id"], targets=["v11"],
                times=["07:00"]).status_code == 201
    crew = district.user("fixer", "crew", "t1")
    assert post(client, crew, name="无权", playlist=playlist["id"], targets=["v11"],
                times=["07:00"]).status_code == 403


def test_a_playlist_with_never_approved_content_is_refused(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    draft = content.draft("尚未审核的稿子。")
    playlist = content.playlist({"announcement": draft}, {"silence_ms": 500})
    response = post(client, admin, name="未审", playlist=playlist["id"], targets=["v11"],
                    times=["07:00"])
    assert response.status_code == 409
    assert response.json()["error"] == "unapproved_content"
    assert response.json()["items"] == [draft]


def test_overlapping_slots_in_a_shared_village_conflict(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    # One loop lasts the announcement plus a minute of silence: loop 3 → a slot over 3 minutes.
    announcement = content.announcement()
    playlist = content.playlist({"announcement": announcement}, {"silence_ms": 60_000})
    with time_machine.travel(MONDAY_5AM, tick=False):
        first = post(client, admin, name="东镇早间", playlist=playlist["id"], targets=["t1"],
                     times=["07:00", "18:30"], loop=3)
        assert first.status_code == 201, first.text
        clash = post(client, admin, name="东一村加播", playlist=playlist["id"],
                     targets=["v11", "v21"], times=["07:03"], days=["mon", "tue"])
        assert clash.status_code == 409
        body = clash.json()
        assert body["error"] == "schedule_conflict" and "东镇早间" in body["detail"]
        assert body["conflicts"][0] == {
            "village": "v11", "schedule": first.json()["id"], "schedule_name": "东镇早间",
            "start_at": "2025-01-06T07:03:00+08:00"}
        assert {c["village"] for c in body["conflicts"]} == {"v11"}  # v21 is not shared
        assert {c["start_at"][:10] for c in body["conflicts"]} >= {"2025-01-06", "2025-01-07"}

        # After the first slot has ended, or in another town, or disabled: no conflict.
        assert post(client, admin, name="稍后", playlist=playlist["id"], targets=["v11"],
                    times=["07:10"]).status_code == 201
        assert post(client, admin, name="西镇", playlist=playlist["id"], targets=["v21"],
                    times=["07:00"]).status_code == 201
        assert post(client, admin, name="停用的", playlist=playlist["id"], targets=["v11"],
                    times=["07:01"], enabled=False).status_code == 201
        # Enabling it later is checked too.
        disabled = client.get("/api/v1/schedules?area=v11", headers=admin).json()["items"]
        paused = next(s for s in disabled if s["name"] == "停用的")
        response = client.patch(f"/api/v1/schedules/{paused['id']}", headers=admin,
                                json={"enabled": True})
        assert response.status_code == 409 and response.json()["error"] == "schedule_conflict"


def test_slots_of_one_schedule_may_not_overlap_each_other(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.playlist({"announcement": content.announcement()}, {"silence_ms": 120_000})
    response = post(client, admin, name="太密", playlist=playlist["id"], targets=["v11"],
                    every_minutes=1, window=["08:00", "09:00"])
    assert response.status_code == 422 and response.json()["error"] == "slots_overlap"


def test_create_read_update_list_and_delete(
    client: TestClient, admin: dict[str, str], district: District, content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(MONDAY_5AM, tick=False):
        created = post(client, admin, name="每半小时", playlist=playlist["id"], targets=["t1"],
                       every_minutes=30, window=["08:00", "09:00"], days=["tue", "mon"], volume=60)
        assert created.status_code == 201, created.text
        schedule = created.json()
        assert schedule["days"] == ["mon", "tue"] and schedule["area"] == "t1"
        assert schedule["next_occurrences"] == [
            "2025-01-06T08:00:00+08:00", "2025-01-06T08:30:00+08:00", "2025-01-06T09:00:00+08:00"]
        assert schedule["times"] is None and schedule["window"] == ["08:00", "09:00"]

        response = client.get(f"/api/v1/schedules/{schedule['id']}", headers=admin)
        assert response.json() == schedule

        changed = client.patch(f"/api/v1/schedules/{schedule['id']}", headers=admin,
                               json={"times": ["10:00"], "name": "十点", "targets": ["t1", "v21"]})
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["times"], body["every_minutes"], body["window"]) == (["10:00"], None, None)
        assert body["area"] == "d1" and body["targets"] == ["t1", "v21"]
        assert body["next_occurrences"][0] == "2025-01-06T10:00:00+08:00"

        occurrences = client.get(f"/api/v1/schedules/{schedule['id']}/occurrences"
                                 "?from=2025-01-06T00:00:00&to=2025-01-09T00:00:00",
                                 headers=admin).json()
        assert [o["start_at"] for o in occurrences["items"]] == [
            "2025-01-06T10:00:00+08:00", "2025-01-07T10:00:00+08:00"]
        assert occurrences["total"] == 2

    east = district.user("east", "staff", "t1")
    west = district.user("west", "staff", "t2")
    listed = client.get("/api/v1/schedules", headers=east).json()
    assert [s["name"] for s in listed["items"]] == ["十点"]  # it plays in t1
    assert client.get("/api/v1/schedules?area=v12", headers=admin).json()["total"] == 1
    # West may read it (it plays in v21) but not change it (it also targets t1).
    assert client.get(f"/api/v1/schedules/{schedule['id']}", headers=west).status_code == 200
    assert client.patch(f"/api/v1/schedules/{schedule['id']}", headers=west,
                        json={"loop": 2}).status_code == 403
    assert client.delete(f"/api/v1/schedules/{schedule['id']}", headers=west).status_code == 403
    assert client.get("/api/v1/schedules?area=v11", headers=west).status_code == 403

    # A targeted area cannot be deleted while a schedule targets it.
    response = client.delete("/api/v1/areas/v21", headers=admin)
    assert response.status_code == 409 and "十点" in response.json()["detail"]

    assert client.delete(f"/api/v1/schedules/{schedule['id']}", headers=admin).status_code == 204
    assert client.get("/api/v1/schedules", headers=admin).json()["total"] == 0

    audit = client.get("/api/v1/audit", headers=admin, params={"entity": "schedule"}).json()
    actions = [(e["action"], e["entity"]) for e in audit["items"] if e["entity"] == "schedule"]
    # (create and update happened at the same frozen instant: their order is not defined)
    assert sorted(actions) == [("create", "schedule"), ("delete", "schedule"),
                               ("update", "schedule")]


def test_a_playlist_used_by_a_schedule_cannot_be_deleted(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    assert post(client, admin, name="占用", playlist=playlist["id"], targets=["v11"],
                times=["07:00"]).status_code == 201
    response = client.delete(f"/api/v1/playlists/{playlist['id']}", headers=admin)
    assert response.status_code == 409 and "占用" in response.json()["detail"]


def test_names_are_unique(client: TestClient, admin: dict[str, str], content: Content) -> None:
    playlist = content.ready_playlist()
    assert post(client, admin, name="同名", playlist=playlist["id"], targets=["v11"],
                times=["07:00"]).status_code == 201
    response = post(client, admin, name="同名", playlist=playlist["id"], targets=["v21"],
                    times=["08:00"])
    assert response.status_code == 409 and response.json()["error"] == "duplicate_name"


def test_ranges_are_checked(client: TestClient, admin: dict[str, str], content: Content) -> None:
    playlist = content.ready_playlist()
    schedule = post(client, admin, name="范围", playlist=playlist["id"], targets=["v11"],
                    times=["07:00"]).json()
    url = f"/api/v1/schedules/{schedule['id']}/occurrences"
    backwards = client.get(url, headers=admin, params={"from": "2025-01-06T00:00:00+08:00",
                                                       "to": "2025-01-05T00:00:00+08:00"})
    assert backwards.status_code == 422
    assert client.get(url, headers=admin, params={"from": "yesterday"}).status_code == 422
    too_long = client.get("/api/v1/villages/v11/calendar", headers=admin, params={
        "from": "2025-01-01T00:00:00+08:00", "to": "2025-03-01T00:00:00+08:00"})
    assert too_long.status_code == 422
    town = client.get("/api/v1/villages/t1/calendar", headers=admin)
    assert town.status_code == 422 and town.json()["error"] == "not_a_village"
