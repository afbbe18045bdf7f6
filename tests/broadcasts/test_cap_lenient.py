"""Messy real-world CAP through the API: accepted with warnings, or 422 with a reason, never 400.

400 ``invalid_cap`` is for documents that are not CAP 1.2 (or are hostile). A valid alert the
service cannot act on — it names its area only in words, nothing it names is here, it has
no ``<info>`` — is 422 with the reason. What is odd but harmless (a ``<digest>`` that does
not match the inline audio, a text too long to synthesise whole, an Update of an alert never
seen) is broadcast, and the broadcast carries a warning.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_PASSWORD, District
from tests.console.conftest import SAME_ORIGIN

from .cap_factory import build_cap_xml, cap_time
from .conftest import Terminal, tone_wav
from .test_cap_api import SENDER, SENT, alert, everything, send

FAR_AWAY = [(10.0, 10.0), (10.0, 10.1), (10.1, 10.1), (10.0, 10.0)]


def test_an_alert_naming_its_area_only_in_words_is_422_not_400(
    client: TestClient, district: District
) -> None:
    response = send(client, district.admin, alert(area_codes=(), area_desc="U.S. nationwide"))

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "no_villages"
    assert "only in words ('U.S. nationwide')" in response.json()["detail"]
    assert everything(client, district.admin) == []


def test_geocodes_of_other_schemes_target_the_areas_with_those_codes(
    client: TestClient, district: District
) -> None:
    geocodes = [("SAME", "v12"), ("SAME", "006109"), ("UGC", "CAZ001 v21")]

    response = send(client, district.admin, alert(area_codes=(), geocodes=geocodes))

    assert response.status_code == 201, response.text
    assert response.json()["targets"] == ["v12", "v21"]
    assert [v["code"] for v in response.json()["villages"]] == ["v12", "v21"]


def test_a_zero_padded_gb_t_2260_code_names_its_town(
    client: TestClient, district: District
) -> None:
    for code, level, parent in [("330106001", "town", "d1"), ("330106001001", "village",
                                                                "330106001")]:  # fmt: skip
        body = {"code": code, "name": code, "level": level, "parent": parent}
        assert client.post("/api/v1/areas", json=body, headers=district.admin).status_code == 201
    geocodes = [("CPEAS Geographic Code", "330106001000")]

    response = send(client, district.admin, alert(area_codes=(), geocodes=geocodes))

    assert response.status_code == 201, response.text
    assert [v["code"] for v in response.json()["villages"]] == ["330106001001"]


def test_geocodes_outside_the_callers_area_are_not_reached(
    client: TestClient, district: District
) -> None:
    staff_t1 = district.user("li", "staff", "t1")

    response = send(client, staff_t1, alert(area_codes=(), geocodes=[("SAME", "v21")]))

    assert response.status_code == 422 and response.json()["error"] == "no_villages"


def test_a_valid_alert_matching_no_village_is_422_with_what_was_tried(
    client: TestClient, district: District, terminal: Callable[..., Terminal]
) -> None:
    terminal("v11", lat=30.10, lon=120.10)
    document = alert(area_codes=(), geocodes=[("SAME", "006109")], polygons=[FAR_AWAY])

    response = send(client, district.admin, document)

    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert response.json()["error"] == "no_villages"
    assert "SAME 006109 name no area here" in detail
    assert "no positioned speaker lies in its 1 polygon(s) and 0 circle(s)" in detail


def test_an_alert_without_info_is_422(client: TestClient, district: District) -> None:
    response = send(client, district.admin, alert(with_info=False))

    assert response.status_code == 422, response.text
    assert response.json()["error"] == "nothing_to_broadcast"


def _audit(client: TestClient, admin: dict[str, str], entity_id: str) -> list[dict[str, Any]]:
    response = client.get("/api/v1/audit?limit=1000", headers=admin)
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e["entity_id"] == entity_id]


def test_a_digest_that_does_not_match_the_audio_is_broadcast_with_a_warning(
    client: TestClient, district: District
) -> None:
    recording = tone_wav(seconds=1.0)
    document = alert(audio=recording, audio_mime="audio/wav", audio_digest=True)
    document = document.replace(hashlib.sha1(recording).hexdigest().encode(), b"b2fd" * 10)

    created = send(client, district.admin, document)

    assert created.status_code == 201, created.text
    assert created.json()["content"] == "cap_audio"
    shown = client.get(f"/api/v1/broadcasts/{created.json()['id']}", headers=district.admin)
    [warning] = shown.json()["warnings"]
    assert "<digest> of the inline audio (b2fdb2fd" in warning and "played all the same" in warning
    [audited] = _audit(client, district.admin, created.json()["id"])
    assert audited["after"]["warnings"] == [warning]
    client.post("/console/login", data={"username": "admin", "password": ADMIN_PASSWORD},
                headers=SAME_ORIGIN)
    page = client.get(f"/console/broadcasts/{created.json()['id']}")
    assert page.status_code == 200 and "played all the same" in page.text


def test_a_text_too_long_to_synthesise_whole_is_shortened_with_a_warning(
    client: TestClient, district: District
) -> None:
    description = "\n".join(f"第{n}段说明文字。" for n in range(1, 301))

    response = send(client, district.admin, alert(description=description))

    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["text"]) <= 2000 and body["text"].endswith("请村民立即转移到安全地带。")
    [warning] = body["warnings"]
    assert warning.startswith("the text was shortened to")


def test_an_update_of_an_alert_never_seen_is_broadcast_as_new_with_a_warning(
    client: TestClient, district: District
) -> None:
    update = alert("HZ-U", msg_type="Update", references=[(SENDER, "HZ-never", SENT)])

    response = send(client, district.admin, update)

    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == [
        f"1 of the 1 alert(s) in <references> were never broadcast here (first: {SENDER},"
        "HZ-never): nothing was replaced"
    ]


def test_an_update_expired_on_arrival_stops_what_it_replaces(
    client: TestClient, district: District, terminal: Callable[..., Terminal]
) -> None:
    v11 = terminal("v11")
    original = send(client, district.admin, alert("HZ-E")).json()
    expired = cap_time(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))

    update = send(client, district.admin, alert("HZ-E-U", msg_type="Update", expires=expired,
                                                references=[(SENDER, "HZ-E", SENT)]))  # fmt: skip
    alone = send(client, district.admin, alert("HZ-X-U", msg_type="Update", expires=expired,
                                               references=[(SENDER, "HZ-X", SENT)]))  # fmt: skip

    assert update.status_code == 200, update.text
    assert update.json()["result"] == "cancelled"
    assert [b["id"] for b in update.json()["broadcasts"]] == [original["id"]]
    assert update.json()["broadcasts"][0]["status"] == "cancelled"
    assert v11.urgent_orders() == []
    assert alone.status_code == 422 and alone.json()["error"] == "already_expired"


def test_an_empty_parameter_value_is_accepted(client: TestClient, district: District) -> None:
    document = build_cap_xml(area_codes=("t1",)).replace(
        b"</instruction>",
        b"</instruction><parameter><valueName>AllocatedResources</valueName><value/></parameter>",
    )

    assert send(client, district.admin, document).status_code == 201
