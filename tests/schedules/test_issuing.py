"""Play orders from schedules: the right ones, once each, whatever changes, restarts or races."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.config import reset_settings
from app.db import session_scope
from app.schedules.issuing import IssueReport, reissue_schedule, top_up_all, top_up_schedule
from app.schedules.models import Schedule
from tests.conftest import District
from tests.schedules.conftest import Content, local, orders, program_versions

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_5AM = datetime(2025, 1, 6, 5, 0, tzinfo=SHANGHAI)  # 2025-01-06 is a Monday


def create(client: TestClient, headers: dict[str, str], **body: object) -> dict[str, object]:
    """POST a schedule; assert 201; its JSON."""
    response = client.post("/api/v1/schedules", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_three_times_loop_three_gives_each_village_its_orders_for_the_next_24_hours(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    counted = issued_counter()
    with time_machine.travel(MONDAY_5AM, tick=False):
        schedule = create(client, admin, name="三餐时段", playlist=playlist["id"],
                          targets=["t1", "v21"], times=["07:00", "12:00", "18:30"], loop=3,
                          volume=80)
    assert schedule["next_occurrences"] == [
        "2025-01-06T07:00:00+08:00", "2025-01-06T12:00:00+08:00", "2025-01-06T18:30:00+08:00"]

    issued = orders()
    assert [(o.village_code, local(o.start_at)) for o in issued] == [
        (village, f"01-06 {hhmm}") for hhmm in ("07:00", "12:00", "18:30")
        for village in ("v11", "v12", "v21")
    ]
    duration = timedelta(milliseconds=playlist["duration_ms"])
    audio = [item["sha256"] for item in issued[0].media]
    for order in issued:
        assert order.kind == "routine" and order.schedule_id == schedule["id"]
        assert (order.loop, order.volume) == (3, 80)
        assert order.not_after == order.start_at + 3 * duration + timedelta(minutes=15)
        assert [item["sha256"] for item in order.media] == audio
        assert order.duration_ms == playlist["duration_ms"]
    assert set(program_versions()) == {"v11", "v12", "v21"}
    assert issued_counter() == counted + 9
    metrics = client.get("/metrics").text
    assert 'cunxiang_orders_issued_total{kind="routine"}' in metrics


def issued_counter() -> float:
    """The value of cunxiang_orders_issued_total{kind="routine"} in this process."""
    from app.metrics import REGISTRY

    return REGISTRY.get_sample_value("cunxiang_orders_issued_total", {"kind": "routine"}) or 0.0


def test_days_and_dates_are_honoured(
    client: TestClient, admin: dict[str, str], content: Content, monkeypatch: pytest.MonkeyPatch,
) -> None:
    playlist = content.ready_playlist()
    monkeypatch.setenv("CUNXIANG_HORIZON", str(7 * 86400))
    reset_settings()
    with time_machine.travel(MONDAY_5AM, tick=False):
        create(client, admin, name="逢一三五", playlist=playlist["id"], targets=["v11"],
               times=["07:00", "18:30"], days=["mon", "wed", "fri"],
               start_date="2025-01-08", end_date="2025-01-12")
    # Monday is before start_date, Sunday the 12th is not a listed day, the 13th is past the end.
    assert [local(o.start_at) for o in orders()] == [
        "01-08 07:00", "01-08 18:30", "01-10 07:00", "01-10 18:30"]


def test_the_horizon_moves_forward_with_time(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    friday = datetime(2025, 1, 10, 5, 0, tzinfo=SHANGHAI)
    with time_machine.travel(friday, tick=False) as traveller:
        create(client, admin, name="周六", playlist=playlist["id"], targets=["v11"],
               times=["07:00", "12:00"], days=["sat"])
        assert orders() == []  # Saturday 07:00 is more than 24 h away
        traveller.move_to(datetime(2025, 1, 10, 7, 0, 30, tzinfo=SHANGHAI))
        assert top_up_all().issued == 1
        assert [local(o.start_at) for o in orders()] == ["01-11 07:00"]
        traveller.move_to(datetime(2025, 1, 10, 12, 0, 30, tzinfo=SHANGHAI))
        assert top_up_all().issued == 1
        assert top_up_all().issued == 0  # nothing new: a re-run is a no-op
    assert [local(o.start_at) for o in orders()] == ["01-11 07:00", "01-11 12:00"]


def test_a_new_village_under_a_targeted_town_gets_its_orders(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(MONDAY_5AM, tick=False):
        create(client, admin, name="东镇广播", playlist=playlist["id"], targets=["t1"],
               times=["07:00", "12:00", "18:30"], loop=3)
        for code, parent in (("v13", "t1"), ("v22", "t2")):
            response = client.post("/api/v1/areas", headers=admin, json={
                "code": code, "name": f"新村{code}", "level": "village", "parent": parent})
            assert response.status_code == 201, response.text
    assert [local(o.start_at) for o in orders(village_code="v13")] == [
        "01-06 07:00", "01-06 12:00", "01-06 18:30"]
    assert orders(village_code="v22") == []  # t2 is not targeted
    assert program_versions()["v13"] == 1


def test_a_village_moved_to_another_town_takes_that_towns_schedules(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(MONDAY_5AM, tick=False):
        create(client, admin, name="东镇早间", playlist=playlist["id"], targets=["t1"],
               times=["07:00"], loop=1)
        create(client, admin, name="西镇午间", playlist=playlist["id"], targets=["t2"],
               times=["12:00"], loop=1)
        assert [local(o.start_at) for o in orders(village_code="v11")] == ["01-06 07:00"]
        before = program_versions()["v11"]
        moved = client.patch("/api/v1/areas/v11", json={"parent": "t2"}, headers=admin)
        assert moved.status_code == 200, moved.text
    assert [local(o.start_at) for o in orders(village_code="v11")] == ["01-06 12:00"]
    assert [local(o.start_at) for o in orders("withdrawn", village_code="v11")] == ["01-06 07:00"]
    assert program_versions()["v11"] > before  # its terminals hear of it on their long-poll
    assert [local(o.start_at) for o in orders(village_code="v12")] == ["01-06 07:00"]


def test_disabling_withdraws_future_orders_and_leaves_past_ones(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(MONDAY_5AM, tick=False) as traveller:
        schedule = create(client, admin, name="可停用", playlist=playlist["id"], targets=["t1"],
                          times=["07:00", "12:00", "18:30"])
        versions = program_versions()
        traveller.move_to(datetime(2025, 1, 6, 13, 0, tzinfo=SHANGHAI))
        response = client.patch(f"/api/v1/schedules/{schedule['id']}", headers=admin,
                                 json={"enabled": False})
        assert response.status_code == 200, response.text
        assert response.json()["next_occurrences"] == []
        assert [local(o.start_at) for o in orders(village_code="v11")] == [
            "01-06 07:00", "01-06 12:00"]
        assert [local(o.start_at) for o in orders("withdrawn", village_code="v11")] == [
            "01-06 18:30"]
        assert all(program_versions()[v] == versions[v] + 1 for v in ("v11", "v12"))

        response = client.patch(f"/api/v1/schedules/{schedule['id']}", headers=admin,
                                 json={"enabled": True})
        assert response.status_code == 200, response.text
    # The withdrawn 18:30 order is issued again (same order), and the horizon reaches Tuesday.
    assert [local(o.start_at) for o in orders(village_code="v11")] == [
        "01-06 07:00", "01-06 12:00", "01-06 18:30", "01-07 07:00", "01-07 12:00"]
    assert orders("withdrawn") == []


def test_deleting_withdraws_future_orders_and_keeps_past_ones(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(MONDAY_5AM, tick=False) as traveller:
        schedule = create(client, admin, name="将删除", playlist=playlist["id"], targets=["v11"],
                          times=["07:00", "18:30"])
        traveller.move_to(datetime(2025, 1, 6, 8, 0, tzinfo=SHANGHAI))
        response = client.delete(f"/api/v1/schedules/{schedule['id']}", headers=admin)
        assert response.status_code == 204
        assert client.get(f"/api/v1/schedules/{schedule['id']}", headers=admin).status_code == 404
    assert [local(o.start_at) for o in orders()] == ["01-06 07:00"]
    assert [local(o.start_at) for o in orders("withdrawn")] == ["01-06 18:30"]


def test_moving_a_time_withdraws_the_old_slot_and_issues_the_new_one(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    playlist = content.ready_playlist()
    with time_machine.travel(MONDAY_5AM, tick=False):
        schedule = create(client, admin, name="改时间", playlist=playlist["id"], targets=["v11"],
                          times=["07:00", "18:30"])
        kept = {o.id for o in orders() if local(o.start_at) == "01-06 07:00"}
        response = client.patch(f"/api/v1/schedules/{schedule['id']}", headers=admin,
                                json={"times": ["07:00", "19:00"], "loop": 2})
        assert response.status_code == 200, response.text
    issued = orders()
    assert [local(o.start_at) for o in issued] == ["01-06 07:00", "01-06 19:00"]
    assert issued[0].id in kept and issued[0].loop == 2  # unchanged occurrence: updated in place
    assert [local(o.start_at) for o in orders("withdrawn")] == ["01-06 18:30"]


def test_a_new_approved_revision_reaches_future_orders_once_its_audio_is_ready(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    announcement = content.announcement("第一版：请注意防火。")
    playlist = content.playlist({"announcement": announcement})
    first = content.wait_ready(announcement)["sha256"]
    schedule = create(client, admin, name="内容更新", playlist=playlist["id"], targets=["v11"],
                      times=["07:00", "12:00", "18:30"])
    assert {o.media[0]["sha256"] for o in orders()} == {first}
    version = program_versions()["v11"]

    content.revise(announcement, "第二版：请注意防汛，远离河道。")
    assert {o.media[0]["sha256"] for o in orders()} == {first}  # a draft never plays
    content.approve(announcement)  # waits until the new audio is ready
    second = content.wait_ready(announcement)["sha256"]
    assert second != first
    issued = orders(schedule_id=schedule["id"])
    assert len(issued) == 3 and {o.media[0]["sha256"] for o in issued} == {second}
    assert program_versions()["v11"] > version


def test_editing_the_playlist_updates_the_media_of_future_orders(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    announcement = content.announcement()
    playlist = content.playlist({"announcement": announcement})
    create(client, admin, name="改节目", playlist=playlist["id"], targets=["v11"],
           times=["07:00", "12:00", "18:30"])
    response = client.patch(f"/api/v1/playlists/{playlist['id']}", headers=content.writer,
                            json={"items": [{"announcement": announcement}, {"silence_ms": 1500}]})
    assert response.status_code == 200, response.text
    duration = response.json()["duration_ms"]
    for order in orders():
        assert len(order.media) == 2 and order.duration_ms == duration
        assert order.not_after == order.start_at + timedelta(milliseconds=duration, minutes=15)


def test_a_restarted_app_on_the_same_database_issues_nothing_twice(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.main import create_app
    from tests.conftest import ADMIN_PASSWORD, login

    monkeypatch.setenv("CUNXIANG_SCHEDULER", "true")
    reset_settings()
    with TestClient(create_app()) as client:
        admin = login(client, "admin", ADMIN_PASSWORD)
        content = Content(client, District(client, admin))
        playlist = content.ready_playlist()
        schedule = create(client, admin, name="重启", playlist=playlist["id"], targets=["t1"],
                          times=["07:00", "12:00", "18:30"])
        create(client, admin, name="重启二", playlist=playlist["id"], targets=["t2"],
               times=["07:00", "20:00"])
        runtime = client.app.state.scheduler  # type: ignore[attr-defined]
        wait_for(lambda: runtime.is_leader and "time:20:00" in runtime.job_ids())
        # One job per distinct time of day, never one per schedule and village.
        assert [j for j in runtime.job_ids() if j.startswith("time:")] == [
            "time:07:00", "time:12:00", "time:18:30", "time:20:00"]
    before = {o.id for o in orders()}
    assert len(before) == 6 + 2
    counted = issued_counter()

    with TestClient(create_app()) as client:
        runtime = client.app.state.scheduler  # type: ignore[attr-defined]
        wait_for(lambda: runtime.is_leader)  # it runs the horizon job as soon as it leads
        wait_for(lambda: "leader:schedules.horizon" in runtime.job_ids())
        with session_scope() as session:  # and the top-up, run again by hand: nothing new
            assert top_up_schedule(session, schedule["id"]).issued == 0
            assert reissue_schedule(session, schedule["id"]).issued == 0
    assert {o.id for o in orders()} == before
    assert issued_counter() == counted


def wait_for(condition: object, timeout: float = 15) -> None:
    """Poll ``condition()`` until true."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("issuer", ["reissue", "top_up"])
def test_issuers_racing_on_one_database_issue_each_order_once(
    client: TestClient, admin: dict[str, str], content: Content, issuer: str,
) -> None:
    playlist = content.ready_playlist()
    for code in ("v13", "v14", "v15"):
        client.post("/api/v1/areas", headers=admin, json={
            "code": code, "name": code, "level": "village", "parent": "t1"})
    schedule = create(client, admin, name="竞争", playlist=playlist["id"], targets=["t1"],
                      times=["07:00", "12:00", "18:30"], enabled=False)
    with session_scope() as session:  # enabled behind the service's back: nothing issued yet
        session.execute(update(Schedule).where(Schedule.id == schedule["id"])
                        .values(enabled=True))
    assert orders() == []

    now = datetime.now(SHANGHAI)
    issue = reissue_schedule if issuer == "reissue" else top_up_schedule
    barrier = threading.Barrier(4)
    reports: list[IssueReport] = []
    errors: list[BaseException] = []

    def race() -> None:
        try:
            barrier.wait()
            with session_scope() as session:
                reports.append(issue(session, schedule["id"], now=now))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    issued = orders()
    keys = [(o.village_code, o.start_at) for o in issued]
    assert len(keys) == len(set(keys)) == 5 * 3  # five villages, three times, once each
    assert sum(r.issued for r in reports) == 15  # and counted once


def test_an_underscore_in_an_area_code_is_no_wildcard(
    client: TestClient, admin: dict[str, str], content: Content,
) -> None:
    for code, level, parent in (("t_e", "town", "d1"), ("tXe", "town", "d1"),
                                ("v_e1", "village", "t_e"), ("vXe1", "village", "tXe")):
        response = client.post("/api/v1/areas", headers=admin, json={
            "code": code, "name": code, "level": level, "parent": parent})
        assert response.status_code == 201, response.text
    playlist = content.ready_playlist()
    create(client, admin, name="下划线", playlist=playlist["id"], targets=["t_e"],
           times=["07:00"])
    assert {o.village_code for o in orders()} == {"v_e1"}
    listed = client.get("/api/v1/schedules", headers=admin, params={"area": "vXe1"}).json()
    assert listed["total"] == 0
