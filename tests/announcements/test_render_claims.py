"""One render per content across workers (and nodes): jobs of the same text wait for the one
that renders it, then take its file without rendering; on PostgreSQL too, where two claims
in flight at once could each miss the other's."""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.announcements import queue
from app.announcements.models import RenderJob
from app.announcements.render_task import RenderedAudio
from app.db import get_sessionmaker, session_scope, utcnow
from app.media.service import media_store
from tests.announcements.helpers import approved, stop_render_worker, wait_for_audio

TEXT = "村民们请注意，今晚有大风，请收好晾晒的衣物。"
OTHER = "村民们请注意，明天上午停水。"


def _jobs() -> dict[str, RenderJob]:
    with session_scope() as session:
        jobs = session.scalars(select(RenderJob).order_by(RenderJob.created_at)).all()
        session.expunge_all()
    return {job.revision_id: job for job in jobs}


def _claim(worker: str) -> queue.ClaimedJob | None:
    with session_scope() as session:
        return queue.claim_next_job(session, worker_id=worker)


def _complete(claimed: queue.ClaimedJob, worker: str, data: bytes) -> RenderedAudio:
    stored = media_store().put_bytes(data)
    audio = RenderedAudio(sha256=stored.sha256, size_bytes=stored.size, duration_ms=1500,
                          loudness_lufs=-16.0)
    with session_scope() as session:
        queue.complete_job(session, job_id=claimed.job_id, worker_id=worker, audio=audio)
    return audio


def test_a_text_being_rendered_is_not_rendered_again_and_the_next_job_takes_its_file(
    client: TestClient, people
) -> None:
    stop_render_worker(client)
    first = approved(client, people["staff"], people["reviewer"], title="甲", body=TEXT)
    second = approved(client, people["staff"], people["reviewer"], title="乙", body=TEXT)
    other = approved(client, people["staff"], people["reviewer"], title="丙", body=OTHER)

    held = _claim("node-a")
    assert held is not None and held.rendered is None  # the first: really rendered
    busy = _claim("node-b")  # the second waits for it; another text does not
    assert busy is not None and busy.spec.text == OTHER
    assert _claim("node-c") is None
    with session_scope() as session:
        assert not queue.has_claimable_job(session)

    audio = _complete(held, "node-a", b"the rendered speech")
    reused = _claim("node-b")
    assert reused is not None and reused.rendered == audio  # nothing left to render
    with session_scope() as session:
        queue.complete_job(session, job_id=reused.job_id, worker_id="node-b",
                           audio=reused.rendered)
    shown = [wait_for_audio(client, people["staff"], a["id"], timeout=5)
             for a in (first, second)]
    assert [a["sha256"] for a in shown] == [audio.sha256, audio.sha256]
    assert _jobs()[reused.revision_id].sha256 == audio.sha256
    still = client.get(f"/api/v1/announcements/{other['id']}", headers=people["staff"]).json()
    assert still["audio"]["status"] == "pending"  # claimed by node-b, never completed


def test_when_the_renderer_dies_its_job_is_taken_again_and_the_twin_still_waits(
    client: TestClient, people
) -> None:
    stop_render_worker(client)
    approved(client, people["staff"], people["reviewer"], title="甲", body=TEXT)
    approved(client, people["staff"], people["reviewer"], title="乙", body=TEXT)
    dead = _claim("dead-node")
    assert dead is not None
    with session_scope() as session:  # its lease runs out
        session.execute(update(RenderJob).where(RenderJob.id == dead.job_id)
                        .values(lease_until=utcnow() - timedelta(seconds=1)))
    again = _claim("node-b")
    assert again is not None and again.job_id == dead.job_id
    assert _claim("node-c") is None


def test_two_claims_in_flight_at_once_never_both_render_one_text(
    client: TestClient, people
) -> None:
    """The first claim holds its transaction open while a second worker claims: on
    PostgreSQL the second must not take the twin job it could not yet see was busy."""
    stop_render_worker(client)
    approved(client, people["staff"], people["reviewer"], title="甲", body=TEXT)
    approved(client, people["staff"], people["reviewer"], title="乙", body=TEXT)
    first = get_sessionmaker()()
    results: list[queue.ClaimedJob | None] = []
    try:
        held = queue.claim_next_job(first, worker_id="node-a")
        assert held is not None
        second = threading.Thread(target=lambda: results.append(_claim("node-b")))
        second.start()
        second.join(0.5)  # it is waiting for the first claim to end
        first.commit()
    finally:
        first.close()
    second.join(20)
    assert results == [None]
    running = [job for job in _jobs().values() if job.state == "running"]
    assert [job.claimed_by for job in running] == ["node-a"]
