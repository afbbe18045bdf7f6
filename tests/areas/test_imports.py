"""Big CSV imports: written in chunks, progress a client can poll, resumed after a stop, and
the new villages get their orders at once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from app.db import session_scope
from tests.conftest import District

HEADER = "code,name,level,parent\n"


def _villages(count: int, town: str = "t1", prefix: str = "nv") -> str:
    return "".join(f"{prefix}{n},新村{n},village,{town}\n" for n in range(count))


def _post(district: District, text: str, **headers: str) -> Any:
    return district.client.post("/api/v1/areas/import", content=text.encode(),
                                headers={**district.admin, "Content-Type": "text/csv",
                                         **headers})


def _count(model: Any, *where: Any) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports write five lines per transaction and answer 202 above ten lines."""
    from app.areas import imports

    monkeypatch.setattr(imports, "CHUNK_LINES", (5, 5, 5))
    monkeypatch.setattr(imports, "SYNC_ROWS", 10)


@pytest.fixture
def stop_flag() -> Iterator[Any]:
    """The process-wide stop request of long writes, cleared afterwards."""
    from app.runtime import chunked

    yield chunked
    chunked.reset_stop()


def _wait_done(district: District, url: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = district.client.get(url, headers=district.admin).json()
        if state["status"] != "running":
            return dict(state)
        time.sleep(0.05)
    raise AssertionError("the import did not finish")


def test_a_big_import_answers_202_and_its_progress_can_be_polled(
    district: District, small_chunks: None,
) -> None:
    from app.audit.models import AuditEntry

    answer = _post(district, HEADER + _villages(33))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "running" and body["total"] == 33
    assert answer.headers["location"] == f"/api/v1/areas/imports/{body['id']}"
    final = _wait_done(district, answer.headers["location"])
    assert (final["status"], final["done"], final["created"], final["updated"]) == (
        "done", 33, 33, 0)
    area = district.client.get("/api/v1/areas/nv32", headers=district.admin).json()
    assert area["path"] == "d1/t1/nv32"
    # Each new area is in the audit log, as a single create would be.
    assert _count(AuditEntry, AuditEntry.entity == "area", AuditEntry.action == "create",
                  AuditEntry.entity_id.like("nv%")) == 33


def test_prefer_respond_async_answers_202_for_a_small_file(district: District) -> None:
    answer = _post(district, HEADER + _villages(2), Prefer="respond-async")
    assert answer.status_code == 202, answer.text
    final = _wait_done(district, answer.headers["location"])
    assert (final["status"], final["created"]) == ("done", 2)


def test_a_bad_line_in_a_big_file_is_422_at_once_and_nothing_is_written(
    district: District, small_chunks: None,
) -> None:
    from app.areas.models import Area, AreaImport

    text = HEADER + _villages(40) + "bad code!,坏,village,t1\n"
    answer = _post(district, text)
    assert answer.status_code == 422, answer.text
    assert [e["line"] for e in answer.json()["errors"]] == [42]
    assert _count(Area, Area.code.like("nv%")) == 0 and _count(AreaImport) == 0


def test_an_import_is_read_only_by_who_covers_its_importer(
    district: District, small_chunks: None,
) -> None:
    staff = district.user("li", "staff", "t1")
    other = district.user("wang", "staff", "t2")
    answer = district.client.post("/api/v1/areas/import", content=(HEADER + _villages(12)).encode(),
                                  headers={**staff, "Content-Type": "text/csv"})
    assert answer.status_code == 202, answer.text
    url = answer.headers["location"]
    _wait_done(district, url)
    assert district.client.get(url, headers=staff).status_code == 200
    assert district.client.get(url, headers=other).status_code == 404


def test_an_import_stopped_between_chunks_is_resumed_exactly(
    district: District, small_chunks: None, stop_flag: Any,
) -> None:
    from app.areas.imports import accept_import, resume_imports, run_import
    from app.areas.models import Area, AreaImport
    from app.auth.permissions import SYSTEM
    from app.runtime.chunked import Interrupted

    with session_scope() as session:
        job = accept_import(session=session, principal=SYSTEM, text=HEADER + _villages(23))

    def stop_after_two_chunks(state: Any) -> None:
        if state.done >= 10:
            stop_flag.request_stop()  # what SIGTERM does

    with pytest.raises(Interrupted):
        run_import(job.id, progress=stop_after_two_chunks)
    with session_scope() as session:
        stopped = session.get(AreaImport, job.id)
        assert stopped is not None
        assert (stopped.status, stopped.done, stopped.heartbeat_at) == ("running", 10, None)
    assert _count(Area, Area.code.like("nv%")) == 10  # written chunks stay

    stop_flag.reset_stop()  # the next process (here: the lease holder's job) resumes it
    assert resume_imports() == 1
    with session_scope() as session:
        done = session.get(AreaImport, job.id)
        assert done is not None
        assert (done.status, done.done, done.created, done.payload) == ("done", 23, 23, None)
    assert _count(Area, Area.code.like("nv%")) == 23
    assert resume_imports() == 0


def test_villages_imported_under_a_scheduled_town_get_their_orders(
    district: District, small_chunks: None,
) -> None:
    from app.playout.models import PlayOrder

    client, admin = district.client, district.admin
    playlist = client.post("/api/v1/playlists", headers=admin, json={
        "name": "静音", "area": "d1", "items": [{"silence_ms": 1000}], "chime": None,
        "gap_ms": 0}).json()
    schedule = client.post("/api/v1/schedules", headers=admin, json={
        "name": "早间", "playlist": playlist["id"], "targets": ["t1"], "times": ["07:00"]})
    assert schedule.status_code == 201, schedule.text
    per_village = _count(PlayOrder, PlayOrder.village_code == "v11")
    assert per_village >= 1

    answer = _post(district, HEADER + _villages(12) + "nt,新镇,town,d1\nnx,新镇村,village,nt\n")
    final = _wait_done(district, answer.headers["location"])
    assert final["created"] == 14
    for village in ("nv0", "nv11"):
        assert _count(PlayOrder, PlayOrder.village_code == village) == per_village
    assert _count(PlayOrder, PlayOrder.village_code == "nx") == 0  # not under t1


def test_a_big_import_moving_a_town_takes_its_villages_along(
    district: District, small_chunks: None,
) -> None:
    from app.audit.models import AuditEntry

    client, admin = district.client, district.admin
    text = (HEADER + "d2,新区,district,\n" + "t1,东镇(迁),town,d2\n"
            + _villages(10, town="t1") + "v12,东二村(改),village,t1\n")
    answer = _post(district, text)
    final = _wait_done(district, answer.headers["location"])
    assert (final["status"], final["created"], final["updated"]) == ("done", 11, 2)
    paths = {code: client.get(f"/api/v1/areas/{code}", headers=admin).json()["path"]
             for code in ("t1", "v11", "v12", "nv9")}
    assert paths == {"t1": "d2/t1", "v11": "d2/t1/v11", "v12": "d2/t1/v12",
                     "nv9": "d2/t1/nv9"}
    with session_scope() as session:
        renamed = session.scalar(select(AuditEntry).where(
            AuditEntry.entity_id == "v12", AuditEntry.action == "update"))
    assert renamed is not None and renamed.area_path == "d2/t1/v12"
    assert renamed.after["name"] == "东二村(改)"


def test_an_import_whose_process_died_is_resumed_once_its_heartbeat_is_stale(
    district: District,
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from app.areas.imports import accept_import, resume_imports
    from app.areas.models import Area, AreaImport
    from app.auth.permissions import SYSTEM
    from app.db import utcnow

    with session_scope() as session:  # accepted, then its process was killed (kill -9)
        job = accept_import(session=session, principal=SYSTEM, text=HEADER + _villages(7))
    assert resume_imports() == 0  # its heartbeat is fresh: it may still be at work
    with session_scope() as session:
        session.execute(update(AreaImport).values(heartbeat_at=utcnow() - timedelta(seconds=16)))
    assert resume_imports() == 1
    with session_scope() as session:
        done = session.get(AreaImport, job.id)
        assert done is not None and (done.status, done.created) == ("done", 7)
    assert _count(Area, Area.code.like("nv%")) == 7
