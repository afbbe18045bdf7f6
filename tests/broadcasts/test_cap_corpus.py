"""The real CAP corpus: every one of the 40 documents posted, in order, gets its pinned answer.

Each is posted with the clock set to its own ``<sent>`` time (time-machine), as a feed would
deliver it: otherwise every alert, from 2003 on, would merely have expired. The district is
``cap_corpus``'s; the answers, and why, are its ``EXPECTED``. Timing is not asserted here:
``bench/cap_geometry.py`` prints it over the corpus with 1,000 positioned speakers. The
texts are really spoken (espeak-ng), so the first run takes about a minute.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient

from .cap_corpus import (
    CORPUS_SPEAKERS,
    CORPUS_VILLAGES,
    DECOYS,
    EXPECTED,
    SEED_05,
    Expected,
    sent_of,
)
from .cap_factory import build_cap_xml, cap_corpus_dir

CAP = "/api/v1/broadcasts/cap"


def build_corpus_district(client: TestClient, admin: dict[str, str]) -> None:
    """The corpus district through the API: areas, one speaker per village, the decoys."""
    areas = [("cx", "district", None), ("cx-shape", "town", "cx"), ("cx-code", "town", "cx")]
    areas += [(code, "village", parent) for code, parent in CORPUS_VILLAGES]
    for code, level, parent in areas:
        body = {"code": code, "name": code, "level": level, "parent": parent}
        assert client.post("/api/v1/areas", json=body, headers=admin).status_code == 201
    speakers = [(v, lat, lon) for v, (lat, lon) in CORPUS_SPEAKERS.items()]
    speakers += [("decoy", lat, lon) for lat, lon in DECOYS]
    for n, (village, lat, lon) in enumerate(speakers):
        body = {"serial": f"CX-{n}", "village": village, "lat": lat, "lon": lon}
        assert client.post("/api/v1/speakers", json=body, headers=admin).status_code == 201


def post_at(client: TestClient, admin: dict[str, str], document: bytes, moment: datetime) -> Any:
    """POST the document as if it arrived at ``moment``."""
    with time_machine.travel(moment, tick=True):
        return client.post(CAP, content=document,
                           headers={**admin, "Content-Type": "application/cap+xml"})  # fmt: skip


def problems_with(number: str, response: Any, want: Expected, made: dict[str, str]) -> list[str]:
    """What differs between the answer and the pinned one (empty: it is right)."""
    body = response.json()
    if response.status_code != want.status:
        return [f"{number}: {response.status_code} {str(body)[:300]} (want {want.status}: "
                f"{want.why})"]  # fmt: skip
    found: list[str] = []
    if want.error is not None:
        if body.get("error") != want.error or (want.detail or "") not in body.get("detail", ""):
            found.append(f"{number}: {body} (want {want.error}, {want.detail!r})")
        return found
    if want.result is not None and body.get("result") != want.result:
        found.append(f"{number}: result {body.get('result')} (want {want.result})")
    if want.same_as is not None and body.get("id") != made.get(want.same_as):
        found.append(f"{number}: broadcast {body.get('id')} (want {want.same_as}'s)")
    if want.status == 201:
        found += _broadcast_problems(number, body, want)
    return found


def _broadcast_problems(number: str, body: dict[str, Any], want: Expected) -> list[str]:
    found = []
    villages = tuple(v["code"] for v in body["villages"])
    if villages != want.villages:
        found.append(f"{number}: villages {villages} (want {want.villages})")
    shown = (body["level"], body["mode"], body["content"])
    if shown != (want.level, want.mode, want.content):
        found.append(f"{number}: level/mode/content {shown}")
    text = body["text"] or ""
    if (want.text and want.text not in text) or (want.not_text and want.not_text in text):
        found.append(f"{number}: text {text[:120]!r}")
    warnings = body["warnings"]
    if len(warnings) != len(want.warnings) or not all(
        part in warning for part, warning in zip(want.warnings, warnings, strict=False)
    ):
        found.append(f"{number}: warnings {warnings} (want {want.warnings})")
    return found


@pytest.mark.timeout(600)  # 20 alerts are spoken by espeak-ng: about a minute on a busy machine
def test_every_real_cap_document_gets_its_pinned_answer(
    client: TestClient, admin: dict[str, str]
) -> None:
    corpus = cap_corpus_dir()
    build_corpus_district(client, admin)
    documents = sorted(corpus.glob("[0-9][0-9]-*"))
    assert [d.name[:2] for d in documents] == sorted(EXPECTED)
    made: dict[str, str] = {}
    problems: list[str] = []
    seed = build_cap_xml(**SEED_05)
    seeded = post_at(client, admin, seed, datetime.fromisoformat(str(SEED_05["sent"])))
    assert seeded.status_code == 201, seeded.text

    for path in documents:
        number = path.name[:2]
        response = post_at(client, admin, path.read_bytes(), sent_of(path) or datetime.now(UTC))
        problems += problems_with(number, response, EXPECTED[number], made)
        if response.status_code == 201:
            made[number] = response.json()["id"]

    assert problems == [], "\n".join(problems)
    cancelled = client.get(f"/api/v1/broadcasts/{seeded.json()['id']}", headers=admin).json()
    assert cancelled["status"] == "cancelled"  # by 05, a Cancel with no <info>
    listed = client.get("/api/v1/broadcasts?limit=1000", headers=admin).json()
    assert listed["total"] == len(made) + 1  # refusals left nothing behind
    decoy = client.get("/api/v1/speakers?village=decoy", headers=admin).json()
    assert decoy["total"] == len(DECOYS)  # (and no answer above reached their village)
