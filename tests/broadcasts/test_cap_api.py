"""CAP 1.2 via the API: Alert, Update, Cancel chains, enumerations, areas, audio, hostile XML."""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.broadcasts import cap_targets
from tests.conftest import District
from tests.rendering.audio_samples import silence_flac

from .cap_factory import build_cap_xml, cap_time
from .conftest import Terminal, tone_wav

CAP = "/api/v1/broadcasts/cap"
CAP_XML = {"Content-Type": "application/cap+xml"}
SENDER = "alerts@hz.example.cn"
SENT = "2024-07-01T08:00:00+08:00"


def send(
    client: TestClient,
    headers: dict[str, str],
    document: bytes | Iterator[bytes],
    content_type: str = "application/cap+xml",
) -> Any:
    return client.post(CAP, content=document, headers={**headers, "Content-Type": content_type})


def alert(identifier: str = "HZ-1", **fields: Any) -> bytes:
    """A valid Actual Alert to town t1 (override any CAP field of the factory)."""
    fields.setdefault("area_codes", ("t1",))
    fields.setdefault("sender", SENDER)
    fields.setdefault("sent", SENT)
    return build_cap_xml(identifier=identifier, **fields)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def everything(client: TestClient, admin: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get("/api/v1/broadcasts?limit=1000", headers=admin)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def media_files(directory: str) -> set[Path]:
    """Stored audio files (the render cache beside them does not count)."""
    root = Path(directory)
    return {p for p in root.rglob("*.mp3") if "cache" not in p.relative_to(root).parts}


# --- Alert, Update, Cancel -------------------------------------------------------------------


def test_an_alert_broadcasts_its_headline_description_and_instruction_to_its_areas(
    client: TestClient,
    district: District,
    terminal: Callable[..., Terminal],
) -> None:
    v11 = terminal("v11")
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)

    response = send(client, district.admin, alert(expires=expires, severity="Extreme"))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active" and body["level"] == 1 and body["mode"] == "actual"
    assert body["title"] == "暴雨橙色预警" and body["content"] == "text"
    assert (
        body["text"]
        == "暴雨橙色预警。预计未来3小时内将出现50毫米以上降水。请村民立即转移到安全地带。"
    )
    assert at(body["expires_at"]) == expires
    assert sorted(v["code"] for v in body["villages"]) == ["v11", "v12"]
    assert body["cap"] == {
        "sender": SENDER,
        "identifier": "HZ-1",
        "sent": "2024-07-01T00:00:00Z",
        "msg_type": "Alert",
    }
    [order] = [o for o in v11.program()["orders"] if o["kind"] == "urgent"]
    assert order["broadcast"] == body["id"] and order["priority"] == 4


def test_the_same_alert_twice_is_one_broadcast(client: TestClient, district: District) -> None:
    first = send(client, district.admin, alert())
    again = send(client, district.admin, alert())

    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(everything(client, district.admin)) == 1


def test_update_replaces_and_cancel_stops_the_whole_chain(
    client: TestClient,
    district: District,
    terminal: Callable[..., Terminal],
) -> None:
    v11, v21 = terminal("v11"), terminal("v21")
    original = send(client, district.admin, alert("HZ-7", severity="Moderate")).json()
    update = send(
        client,
        district.admin,
        alert(
            "HZ-7-U1",
            msg_type="Update",
            sent="2024-07-01T09:00:00+08:00",
            severity="Extreme",
            area_codes=("t1", "v21"),
            references=[(SENDER, "HZ-7", SENT)],
        ),
    )

    assert update.status_code == 201, update.text
    replaced = client.get(f"/api/v1/broadcasts/{original['id']}", headers=district.admin).json()
    assert replaced["status"] == "cancelled" and replaced["replaced_by"] == update.json()["id"]
    assert update.json()["level"] == 1 and update.json()["cap"]["msg_type"] == "Update"
    assert [o["broadcast"] for o in v11.program()["orders"]] == [update.json()["id"]]
    assert [o["broadcast"] for o in v21.program()["orders"]] == [update.json()["id"]]

    # A Cancel naming only the first alert stops what replaced it too.
    cancel = alert(
        "HZ-7-C",
        msg_type="Cancel",
        sent="2024-07-01T10:00:00+08:00",
        references=[(SENDER, "HZ-7", SENT)],
        with_info=False,
    )
    cancelled = send(client, district.admin, cancel)
    repeated = send(client, district.admin, cancel)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["result"] == "cancelled"
    assert {b["id"]: b["status"] for b in cancelled.json()["broadcasts"]} == {
        original["id"]: "cancelled",
        update.json()["id"]: "cancelled",
    }
    assert repeated.status_code == 200
    assert v11.program()["orders"] == [] and v21.program()["orders"] == []


def test_a_cancel_of_an_unknown_alert_is_404(client: TestClient, district: District) -> None:
    response = send(
        client,
        district.admin,
        alert(
            "HZ-9-C", msg_type="Cancel", references=[(SENDER, "never-sent", SENT)], with_info=False
        ),
    )

    assert response.status_code == 404
    assert (
        response.json()["error"] == "unknown_reference"
        and "never-sent" in response.json()["detail"]
    )


# --- enumerations ------------------------------------------------------------------------------


def test_severity_gives_the_level_and_status_the_mode(
    client: TestClient, district: District
) -> None:
    for number, (severity, level) in enumerate(
        [("Extreme", 1), ("Severe", 2), ("Moderate", 3), ("Minor", 4), ("Unknown", 4)]
    ):
        response = send(client, district.admin, alert(f"SEV-{number}", severity=severity))
        assert response.status_code == 201, response.text
        assert (response.json()["level"], response.json()["priority"]) == (level, 5 - level), (
            severity
        )
    for status, mode in [("Actual", "actual"), ("Exercise", "exercise"), ("Test", "test")]:
        response = send(client, district.admin, alert(f"STATUS-{status}", status=status))
        assert response.status_code == 201, response.text
        assert response.json()["mode"] == mode, status


def test_system_draft_ack_and_error_are_accepted_and_not_broadcast(
    client: TestClient,
    district: District,
) -> None:
    for status, msg_type in [
        ("System", "Alert"),
        ("Draft", "Alert"),
        ("Actual", "Ack"),
        ("Actual", "Error"),
    ]:
        references = [(SENDER, "HZ-1", SENT)] if msg_type in ("Ack", "Error") else []
        response = send(
            client,
            district.admin,
            alert(f"{status}-{msg_type}", status=status, msg_type=msg_type, references=references),
        )

        assert response.status_code == 202, response.text
        assert response.json()["result"] == "not_broadcast"
        assert (response.json()["status"], response.json()["msg_type"]) == (status, msg_type)
        assert "not broadcast" in response.json()["detail"]
    assert everything(client, district.admin) == []


def test_an_exercise_alert_is_spoken_between_drill_notices(
    client: TestClient,
    district: District,
) -> None:
    actual = send(client, district.admin, alert("A-1")).json()
    drill = send(client, district.admin, alert("E-1", status="Exercise")).json()

    assert drill["media"][0]["sha256"] != actual["media"][0]["sha256"]
    assert drill["duration_ms"] > actual["duration_ms"] + 3000


# --- areas -----------------------------------------------------------------------------------


def test_unknown_area_codes_are_422_naming_them(client: TestClient, district: District) -> None:
    response = send(client, district.admin, alert(area_codes=("t1", "330106", "v99")))

    assert response.status_code == 422
    assert response.json()["areas"] == ["330106", "v99"]
    assert "330106" in response.json()["detail"]
    assert everything(client, district.admin) == []


# v11's speaker at (30.10, 120.10), v12's at (30.30, 120.30), v21's at (30.50, 120.50).
SQUARE_AROUND_V11 = [
    (30.05, 120.05),
    (30.05, 120.15),
    (30.15, 120.15),
    (30.15, 120.05),
    (30.05, 120.05),
]
CIRCLE_AROUND_V21 = (30.51, 120.51, 3.0)  # ~1.4 km from v21's speaker, ~30 km from v12's


@pytest.fixture
def positioned(terminal: Callable[..., Terminal]) -> dict[str, Terminal]:
    return {
        "v11": terminal("v11", lat=30.10, lon=120.10),
        "v12": terminal("v12", lat=30.30, lon=120.30),
        "v21": terminal("v21", lat=30.50, lon=120.50),
    }


def test_polygons_and_circles_select_the_villages_of_the_speakers_inside(
    client: TestClient,
    district: District,
    positioned: dict[str, Terminal],
) -> None:
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"polygons": [SQUARE_AROUND_V11]}, ["v11"]),
        ({"circles": [CIRCLE_AROUND_V21]}, ["v21"]),
        ({"polygons": [SQUARE_AROUND_V11], "circles": [CIRCLE_AROUND_V21]}, ["v11", "v21"]),
        ({"circles": [(30.30, 120.30, 0.5)], "area_codes": ("v21",)}, ["v12", "v21"]),
    ]
    for number, (shapes, expected) in enumerate(cases):
        response = send(
            client, district.admin, alert(f"GEO-{number}", **{"area_codes": (), **shapes})
        )

        assert response.status_code == 201, response.text
        assert sorted(v["code"] for v in response.json()["villages"]) == expected, shapes


def test_shapes_only_reach_speakers_inside_the_callers_area(
    client: TestClient,
    district: District,
    positioned: dict[str, Terminal],
) -> None:
    staff_t1 = district.user("li", "staff", "t1")

    outside = send(client, staff_t1, alert(area_codes=(), circles=[CIRCLE_AROUND_V21]))
    by_code = send(client, staff_t1, alert(area_codes=("v21",)))
    empty = send(client, district.admin, alert(area_codes=(), circles=[(10.0, 10.0, 1.0)]))

    assert outside.status_code == 422 and outside.json()["error"] == "no_villages"
    assert by_code.status_code == 403
    assert empty.status_code == 422


def test_matching_shapes_never_holds_the_workers_that_issue_broadcasts(
    client: TestClient,
    district: District,
    positioned: dict[str, Terminal],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # More alerts stuck in their geometry than the executor that issues broadcasts has threads.
    stuck = min(32, (os.cpu_count() or 1) + 4) + 1
    release, entered = threading.Event(), threading.Semaphore(0)
    real = cap_targets.villages_in_shapes

    def slow(*args: Any) -> Any:
        entered.release()
        release.wait(60)
        return real(*args)

    monkeypatch.setattr(cap_targets, "villages_in_shapes", slow)
    shaped = [alert(f"BIG-{n}", area_codes=(), polygons=[SQUARE_AROUND_V11]) for n in range(stuck)]
    with concurrent.futures.ThreadPoolExecutor(stuck) as senders:
        pending = [senders.submit(send, client, district.admin, doc) for doc in shaped]
        try:
            assert entered.acquire(timeout=30), "no alert reached its geometry"
            urgent = client.post(
                "/api/v1/broadcasts",
                json={"title": "一级", "level": 1, "targets": ["v21"], "text": "立即撤离。"},
                headers=district.admin,
            )
            assert urgent.status_code == 201, urgent.text
            assert not any(f.done() for f in pending)  # they were still matching shapes
        finally:
            release.set()
        answers = [f.result(timeout=60) for f in pending]
    assert [a.status_code for a in answers] == [201] * stuck
    assert {v["code"] for a in answers for v in a.json()["villages"]} == {"v11"}


# --- audio -----------------------------------------------------------------------------------


def _seconds(data: bytes) -> float:
    with tempfile.NamedTemporaryFile(suffix=".mp3") as file:
        file.write(data)
        file.flush()
        out = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "format=duration",
                "-of",
                "csv=p=0",
                file.name,
            ],
            capture_output=True,
            check=True,
        )
    return float(out.stdout)


def test_inline_audio_is_transcoded_and_played_instead_of_the_text(
    client: TestClient,
    district: District,
) -> None:
    recording = tone_wav(seconds=2.0, frequency=660.0)

    response = send(
        client, district.admin, alert(audio=recording, audio_mime="audio/wav", audio_digest=True)
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["content"] == "cap_audio"
    [item] = body["media"]
    assert item["duration_ms"] == pytest.approx(2000, abs=100)
    served = client.get(item["url"])
    assert served.status_code == 200 and _seconds(served.content) == pytest.approx(2.0, abs=0.15)


def test_inline_bytes_that_are_not_audio_are_400_and_store_nothing(
    client: TestClient,
    district: District,
    env: dict[str, str],
) -> None:
    before = media_files(env["CUNXIANG_MEDIA_DIR"])
    response = send(
        client,
        district.admin,
        alert(audio=b"MZ this is no recording" * 50, audio_mime="audio/mpeg"),
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cap" and "audio" in response.json()["detail"]
    assert everything(client, district.admin) == []
    assert media_files(env["CUNXIANG_MEDIA_DIR"]) == before


def test_inline_audio_longer_than_ten_minutes_is_refused_before_decoding(
    client: TestClient, district: District, env: dict[str, str], tmp_path: Path
) -> None:
    bomb = silence_flac(tmp_path / "40min.flac", 40 * 60).read_bytes()  # ~0.4 MB
    before = media_files(env["CUNXIANG_MEDIA_DIR"])

    response = send(client, district.admin, alert(audio=bomb, audio_mime="audio/flac"))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_cap"
    assert "40 min" in response.json()["detail"] and "10 min" in response.json()["detail"]
    assert everything(client, district.admin) == []
    assert media_files(env["CUNXIANG_MEDIA_DIR"]) == before


# --- refusals --------------------------------------------------------------------------------


def _with_entity(doctype: str, reference: str) -> bytes:
    """A valid alert to t1 whose description holds ``reference``, declared in ``doctype``."""
    document = alert("HOSTILE-1", description="PLACEHOLDER")
    declaration, rest = document.split(b"?>", 1)
    return (
        declaration + b"?>\n" + doctype.encode() + rest.replace(b"PLACEHOLDER", reference.encode())
    )


LAUGHS = (
    '<!DOCTYPE alert [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)

HOSTILE = {
    "external entity": _with_entity(
        '<!DOCTYPE alert [<!ENTITY secret SYSTEM "file:///etc/passwd">]>', "&secret;"
    ),
    "external DTD": _with_entity('<!DOCTYPE alert SYSTEM "http://attacker.example/cap.dtd">', "x"),
    "billion laughs": _with_entity(LAUGHS, "&lol9;"),
}


def test_hostile_xml_is_400_with_no_side_effects(
    client: TestClient,
    district: District,
    terminal: Callable[..., Terminal],
    env: dict[str, str],
) -> None:
    v11 = terminal("v11")
    before = media_files(env["CUNXIANG_MEDIA_DIR"])

    for name, document in HOSTILE.items():
        response = send(client, district.admin, document)

        assert response.status_code == 400, name
        assert response.json()["error"] == "invalid_cap" and response.json()["detail"], name
    assert everything(client, district.admin) == []
    assert v11.program()["orders"] == []
    assert media_files(env["CUNXIANG_MEDIA_DIR"]) == before
    # The same documents, defused, would have been broadcast: the refusal is the parser's.
    assert send(client, district.admin, _with_entity("", "暴雨")).status_code == 201


def test_an_oversized_document_is_413_declared_or_cut_off(
    client: TestClient, district: District
) -> None:
    """Over CUNXIANG_MAX_CAP_MB (4 MB): refused at once when the length is declared, cut
    off at the limit when it is not."""
    declared = send(client, district.admin,
                     alert("HOSTILE-2", description="暴雨" * (5 * 1024 * 1024 // 3 + 1)))

    def chunks() -> Iterator[bytes]:
        yield alert()[:-8]
        for _ in range(40):  # 10 MB in 256 KB chunks, sent without a Content-Length
            yield b" " * 256 * 1024

    streamed = send(client, district.admin, chunks())

    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "payload_too_large"
        assert "CUNXIANG_MAX_CAP_MB" in response.json()["detail"]
    assert everything(client, district.admin) == []


def test_malformed_or_not_cap_12_is_400_with_the_reason(
    client: TestClient,
    district: District,
) -> None:
    for document, reason in [
        (b"this is not xml", "malformed XML"),
        (
            alert(namespace="urn:oasis:names:tc:emergency:cap:1.1"),
            "urn:oasis:names:tc:emergency:cap:1.2",
        ),
        (alert(severity="Catastrophic"), "severity"),
        (alert(sender=None), "sender"),
        (b"", "empty"),
    ]:
        response = send(client, district.admin, document)

        assert response.status_code == 400, reason
        assert response.json()["error"] == "invalid_cap"
        assert reason in response.json()["detail"]


def test_other_content_types_are_415(client: TestClient, district: District) -> None:
    for content_type in ("application/json", "text/plain", ""):
        assert send(client, district.admin, alert(), content_type).status_code == 415


def test_application_xml_is_accepted_too(client: TestClient, district: District) -> None:
    assert (
        send(client, district.admin, alert(), "application/xml; charset=utf-8").status_code == 201
    )


def test_an_alert_that_has_expired_is_422(client: TestClient, district: District) -> None:
    expired = datetime.now(UTC) - timedelta(minutes=5)

    response = send(client, district.admin, alert(expires=cap_time(expired)))

    assert response.status_code == 422 and response.json()["error"] == "already_expired"


def test_who_may_send_cap(client: TestClient, district: District) -> None:
    reviewer = district.user("wang", "reviewer", "d1")
    key = client.post(
        "/api/v1/api-keys",
        headers=district.admin,
        json={"name": "气象台", "scopes": ["broadcasts:write"], "area": "t1"},
    ).json()["key"]

    assert send(client, {}, alert()).status_code == 401
    assert send(client, reviewer, alert()).status_code == 403
    assert (
        send(client, {"Authorization": f"Bearer {key}"}, alert(area_codes=("t2",))).status_code
        == 403
    )
    assert (
        send(client, {"Authorization": f"Bearer {key}"}, alert(area_codes=("v12",))).status_code
        == 201
    )


def test_a_level_iii_alert_in_quiet_hours_lives_an_hour_from_their_end_or_is_refused(
    client: TestClient, district: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import get_settings, reset_settings

    zone = get_settings().tz
    now = datetime.now(zone).replace(second=0, microsecond=0)
    monkeypatch.setenv("CUNXIANG_QUIET_HOURS",
                       f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=2):%H:%M}")
    reset_settings()
    quiet_end = (now + timedelta(hours=2)).astimezone(UTC)

    accepted = send(client, district.admin, alert("HZ-Q1", severity="Moderate"))
    refused = send(client, district.admin, alert(
        "HZ-Q2", severity="Moderate", expires=cap_time(quiet_end - timedelta(minutes=30))))

    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["status"] == "active" and at(body["start_at"]) == quiet_end
    assert at(body["expires_at"]) == quiet_end + timedelta(hours=1)
    assert refused.status_code == 422 and refused.json()["error"] == "expires_before_start"
    assert [b["id"] for b in everything(client, district.admin)] == [body["id"]]
