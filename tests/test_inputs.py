"""Finding text no database can store: NUL characters and lone surrogates."""

from __future__ import annotations

from typing import Any

import pytest

from app.inputs import find_hostile, find_hostile_in_json, hostile_reason


@pytest.mark.parametrize("text", ["a\x00b", "\udfff", "x\ud800", "\ud83d"])
def test_nul_and_lone_surrogates_are_hostile(text: str) -> None:
    assert hostile_reason(text)


@pytest.mark.parametrize("text", ["", "广播 🔔", "tab\tand\nnewline", "\\u0000", "\ufffd"])
def test_ordinary_text_is_not(text: str) -> None:
    assert hostile_reason(text) is None


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"fault": "a\\u0000b"}', "fault"),
    (b'{"playing": "\\udfff"}', "playing"),
    (b'{"playing": "\\uDBFFx"}', "playing"),
    (b'{"playing": "\xed\xbf\xbf"}', "playing"),  # UTF-8 bytes of a surrogate
    (b'{"items": [{"text": "ok"}, {"text": "\\u0000"}]}', "items.1.text"),
    (b'{"a": {"b\\u0000": 1}}', "a.b\ufffd"),
    (b'"\\u0000"', "body"),
])
def test_hostile_json_names_the_field(raw: bytes, field: str) -> None:
    found = find_hostile_in_json(raw)
    assert found is not None and found[0] == field


@pytest.mark.parametrize("raw", [
    b'{"a": "\\\\u0000"}',  # an escaped backslash: the text is backslash-u-0000
    b'{"a": "\\ud83d\\ude00"}',  # a surrogate pair is one character
    b'{"a": "\xf0\x9f\x94\x94", "b": [1, 2.5, null, true]}',
    b'{"a": "\\u0000',  # not JSON at all: the route answers that
])
def test_clean_or_broken_json_is_left_to_the_routes(raw: bytes) -> None:
    assert find_hostile_in_json(raw) is None


def test_find_hostile_walks_nested_values() -> None:
    assert find_hostile({"a": [1, {"b": "x\x00"}]}) == ("a.1.b", hostile_reason("\x00"))
    assert find_hostile({"a": [1, {"b": "x"}]}) is None


def test_unreal_times_and_dates_in_bodies_are_422_not_500(
    client: Any, admin: dict[str, str], district: Any
) -> None:
    """A receipt at 0001-01-01+14:00 (year 0 in UTC) and a schedule from 9999-12-31 (no day
    after it) were 500s; every time and date a client sends is held to 1900–9000."""
    from datetime import UTC, datetime, timedelta

    from tests.playout.orders import bearer, insert_order, register, store_media

    terminal = bearer(register(client, admin, "v11", "T-1")["token"])
    order = insert_order("v11", datetime.now(UTC) + timedelta(minutes=5), [store_media(1.0)])
    playlist = client.post("/api/v1/playlists", headers=admin, json={
        "name": "静音", "area": "d1", "items": [{"silence_ms": 1000}]}).json()["id"]
    for moment in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        receipt = client.post("/terminal/v1/receipts", headers=terminal,
                              json=[{"order": order, "event": "started", "at": moment}])
        assert receipt.status_code == 422 and receipt.json()["fields"][0]["field"] == "0.at"
        broadcast = client.post("/api/v1/broadcasts", headers={**admin, "Idempotency-Key": moment},
                                json={"title": "t", "level": 1, "targets": ["v11"],
                                      "text": "测试", "expires_at": moment})
        assert broadcast.status_code == 422, broadcast.text
    for start, end in (("9999-12-31", None), ("1899-12-31", "1900-01-02")):
        schedule = client.post("/api/v1/schedules", headers=admin, json={
            "name": "远", "playlist": playlist, "targets": ["v11"], "times": ["07:00"],
            "start_date": start, "end_date": end})
        assert schedule.status_code == 422 and schedule.json()["fields"][0]["field"] == (
            "start_date"), schedule.text
    far = client.post("/api/v1/schedules", headers=admin, json={
        "name": "远", "playlist": playlist, "targets": ["v11"], "times": ["07:00"],
        "start_date": "8999-12-30", "end_date": "8999-12-31"})
    assert far.status_code == 201, far.text
    assert client.post("/terminal/v1/receipts", headers=terminal, json=[
        {"order": order, "event": "started", "at": "1900-01-01T00:00:00Z"}]).status_code == 200
