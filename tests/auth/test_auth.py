"""Logins, tokens, users, API keys, roles and area scoping as clients see them."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, PASSWORD, District, login


def test_login_logout_and_wrong_password(client: TestClient) -> None:
    headers = login(client, "admin", ADMIN_PASSWORD)
    assert client.get("/api/v1/auth/me", headers=headers).json()["role"] == "admin"
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    wrong = client.post("/api/v1/auth/token", json={"username": "admin", "password": "nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "unauthorized"
    unknown = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "nope"})
    assert unknown.status_code == 401


def test_a_disabled_users_tokens_stop_at_once(district: District) -> None:
    client, admin = district.client, district.admin
    staff = district.user("li", "staff", "t1")
    assert client.get("/api/v1/areas/t1", headers=staff).status_code == 200
    assert client.patch("/api/v1/users/li", json={"disabled": True},
                        headers=admin).status_code == 200
    assert client.get("/api/v1/areas/t1", headers=staff).status_code == 401
    again = client.post("/api/v1/auth/token", json={"username": "li", "password": PASSWORD})
    assert again.status_code == 401
    client.patch("/api/v1/users/li", json={"disabled": False}, headers=admin)
    assert login(client, "li")


def test_password_change_and_role_change(district: District) -> None:
    client, admin = district.client, district.admin
    district.user("wang", "reviewer", "t1")
    changed = client.patch("/api/v1/users/wang",
                           json={"password": "brand-new-pass", "role": "staff"}, headers=admin)
    assert changed.json()["role"] == "staff"
    assert client.post("/api/v1/auth/token",
                       json={"username": "wang", "password": PASSWORD}).status_code == 401
    assert login(client, "wang", "brand-new-pass")
    listed = client.get("/api/v1/users", headers=admin).json()
    assert {u["username"] for u in listed["items"]} == {"admin", "wang"}
    assert all("password" not in str(u) for u in listed["items"])


def test_user_rules(district: District) -> None:
    client, admin = district.client, district.admin
    body = {"username": "zhao", "password": PASSWORD, "role": "staff", "area": "t1"}
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 201
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 409
    no_area = client.post("/api/v1/users", headers=admin,
                          json={"username": "qian", "password": PASSWORD, "role": "staff"})
    assert no_area.status_code == 422 and "area" in no_area.json()["detail"]
    bad_area = client.post("/api/v1/users", headers=admin,
                           json={"username": "qian", "password": PASSWORD, "role": "staff",
                                 "area": "zz"})
    assert bad_area.status_code == 422
    staff = login(client, "zhao")
    assert client.get("/api/v1/users", headers=staff).status_code == 403
    assert client.post("/api/v1/api-keys", json={"name": "k", "scopes": ["areas:read"]},
                       headers=staff).status_code == 403


def test_town_staff_are_confined_to_their_town(district: District) -> None:
    client = district.client
    staff = district.user("sun", "staff", "t1")
    assert client.get("/api/v1/areas/v11", headers=staff).status_code == 200
    other = client.get("/api/v1/areas/t2", headers=staff)
    assert other.status_code == 403 and other.json()["error"] == "forbidden"
    assert client.get("/api/v1/areas/v21", headers=staff).status_code == 403
    assert client.patch("/api/v1/areas/v21", json={"name": "x"}, headers=staff).status_code == 403
    assert client.delete("/api/v1/areas/v21", headers=staff).status_code == 403
    listed = client.get("/api/v1/areas", headers=staff).json()
    assert {a["code"] for a in listed["items"]} == {"t1", "v11", "v12"}
    inside = client.post("/api/v1/areas", headers=staff,
                         json={"code": "v13", "name": "东三村", "level": "village", "parent": "t1"})
    assert inside.status_code == 201
    outside = client.post("/api/v1/areas", headers=staff,
                          json={"code": "v22", "name": "西二村", "level": "village",
                                "parent": "t2"})
    assert outside.status_code == 403


def test_api_key_reads_the_tree_until_revoked(district: District) -> None:
    client, admin = district.client, district.admin
    created = client.post("/api/v1/api-keys", headers=admin,
                          json={"name": "指挥中心", "scopes": ["areas:read"], "area": "d1"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith("cxk_")
    headers = {"Authorization": f"Bearer {key}"}
    tree = client.get("/api/v1/areas", headers=headers).json()
    assert tree["total"] == 6
    assert client.post("/api/v1/areas", headers=headers,
                       json={"code": "zz", "name": "z", "level": "district"}).status_code == 403
    listed = client.get("/api/v1/api-keys", headers=admin).json()["items"]
    assert key not in str(listed) and listed[0]["prefix"] == key[:10]
    assert client.delete(f"/api/v1/api-keys/{created.json()['id']}",
                         headers=admin).status_code == 204
    assert client.get("/api/v1/areas", headers=headers).status_code == 401
    assert client.get("/api/v1/api-keys", headers=admin).json()["items"][0]["revoked"] is True


def test_more_than_ten_failed_logins_answer_429(client: TestClient) -> None:
    with time_machine.travel("2026-03-01 08:00:00+00:00", tick=False) as traveller:
        for _ in range(10):
            bad = client.post("/api/v1/auth/token", json={"username": "admin", "password": "x"})
            assert bad.status_code == 401
        blocked = client.post("/api/v1/auth/token",
                              json={"username": "admin", "password": ADMIN_PASSWORD})
        assert blocked.status_code == 429 and blocked.json()["error"] == "too_many_requests"
        traveller.shift(301)
        assert client.post(
            "/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
        ).status_code == 200


@pytest.mark.slow
def test_failed_logins_count_across_api_processes(env: dict[str, str]) -> None:
    """Two server processes share the database: guesses split between them still add up."""
    import httpx

    from tests.conftest import LiveServer

    servers = [LiveServer(env).start(timeout=90), LiveServer(env).start(timeout=90)]
    try:
        for server in servers * 5:
            bad = httpx.post(server.url + "/api/v1/auth/token",
                             json={"username": "admin", "password": "x"})
            assert bad.status_code == 401
        for server in servers:
            blocked = httpx.post(server.url + "/api/v1/auth/token",
                                 json={"username": "admin", "password": ADMIN_PASSWORD})
            assert blocked.status_code == 429, blocked.text
            assert 0 < int(blocked.headers["retry-after"]) <= 301
    finally:
        for server in servers:
            server.stop()


@pytest.mark.slow
def test_a_burst_of_simultaneous_guesses_gets_ten_tries_at_most(live_server: Any) -> None:
    """Every guess is counted before its password is checked: 30 at once, 10 get an answer."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    def guess(n: int) -> int:
        return httpx.post(live_server.url + "/api/v1/auth/token", timeout=60,
                          json={"username": "admin", "password": f"wrong-{n}"}).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(guess, range(30)))
    assert answers.count(401) + answers.count(429) == 30, answers
    # However the burst was cut, guesses one by one afterwards get the rest of the ten only.
    answers += [guess(100 + n) for n in range(11)]
    assert answers.count(401) <= 10 and answers[-1] == 429, answers


def test_failures_from_one_address_block_other_usernames_too(client: TestClient) -> None:
    for i in range(11):
        client.post("/api/v1/auth/token", json={"username": f"guess{i}", "password": "x"})
    assert client.post("/api/v1/auth/token",
                       json={"username": "admin", "password": ADMIN_PASSWORD}).status_code == 429


def test_audit_log_records_changes_with_before_and_after(district: District) -> None:
    client, admin = district.client, district.admin
    client.patch("/api/v1/areas/v11", json={"name": "东一新村"}, headers=admin)
    entries = client.get("/api/v1/audit?area=t1", headers=admin).json()["items"]
    update = next(e for e in entries if e["action"] == "update" and e["entity_id"] == "v11")
    assert update["actor"] == "user:admin"
    assert update["before"]["name"] == "东一村" and update["after"]["name"] == "东一新村"
    assert all(e["area_path"].startswith("d1/t1") for e in entries)
    staff = district.user("zhou", "staff", "t1")
    assert client.get("/api/v1/audit", headers=staff).status_code == 403


def test_audit_period_without_an_offset_is_local_time(district: District) -> None:
    client = district.client
    with time_machine.travel("2030-03-01 08:00:00+00:00", tick=False) as traveller:  # 16:00 local
        admin = login(client, "admin", ADMIN_PASSWORD)
        client.patch("/api/v1/areas/v11", json={"name": "东一新村"}, headers=admin)
        traveller.move_to("2030-03-01 10:00:00+00:00")  # 18:00 in Asia/Shanghai
        client.patch("/api/v1/areas/v12", json={"name": "东二新村"}, headers=admin)

        def updated(**period: str) -> list[str]:
            response = client.get("/api/v1/audit", headers=admin, params=period)
            assert response.status_code == 200, response.text
            return [e["entity_id"] for e in response.json()["items"] if e["action"] == "update"]

        # 17:00 local is 09:00 UTC: between the two changes (read as UTC it would be after both).
        assert updated(**{"from": "2030-03-01T17:00:00"}) == ["v12"]
        assert updated(to="2030-03-01T17:00:00") == ["v11"]
        assert updated(**{"from": "2030-03-01T17:00:00+08:00"}) == ["v12"]


def test_bootstrap_prints_a_random_admin_password_once(env, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from app.config import reset_settings
    from app.main import create_app

    monkeypatch.delenv("CUNXIANG_ADMIN_PASSWORD")
    reset_settings()
    with TestClient(create_app()):
        pass
    printed = capsys.readouterr().out
    assert "created user 'admin' with password:" in printed
    password = printed.split("password:")[1].split()[0]
    with TestClient(create_app()) as client:
        assert login(client, "admin", password)
    assert "created user" not in capsys.readouterr().out
