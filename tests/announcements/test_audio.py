"""Rendering through the API: the render queue, the worker, the audio a player downloads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.announcements import queue
from app.announcements.models import RenderJob
from app.announcements.worker import RenderWorker
from app.config import reset_settings
from app.db import session_scope, utcnow
from tests.announcements.helpers import (
    SHORT_TEXT,
    action,
    approved,
    create,
    ffprobe,
    loudness_and_peak,
    stop_render_worker,
    wait_for_audio,
)

LONGER_TEXT = SHORT_TEXT + "请各位村民带好身份证，按时参加，不要迟到。会议结束后发放防汛物资。"


@contextmanager
def _worker(client: TestClient) -> Iterator[RenderWorker]:
    """Another render worker in the app's event loop, while the block runs."""
    worker = RenderWorker(concurrency=1)
    client.portal.call(worker.start)  # type: ignore[union-attr,call-arg]
    try:
        yield worker
    finally:
        client.portal.call(worker.stop)  # type: ignore[union-attr,call-arg]


def test_approval_renders_audio_at_minus_16_lufs_without_clipping(
    client: TestClient, people
) -> None:
    ann = approved(client, people["staff"], people["reviewer"])
    assert ann["audio"]["status"] == "pending"
    audio = wait_for_audio(client, people["staff"], ann["id"])
    assert audio["status"] == "ready", audio
    assert audio["url"] == f"/media/{audio['sha256']}"
    download = client.get(audio["url"])  # no token: the hash is the capability
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/mpeg"
    lufs, peak = loudness_and_peak(download.content)
    assert abs(lufs + 16) <= 1, lufs
    assert peak <= -1.0, peak
    assert abs(audio["loudness_lufs"] + 16) <= 1
    # Plausible for 19 characters of Mandarin: a few seconds, not a blip, not a minute.
    assert 2_000 <= audio["duration_ms"] <= 12_000, audio["duration_ms"]


def test_ffprobe_reads_the_audio_as_mono_mp3_of_the_stated_length(
    client: TestClient, people, tmp_path
) -> None:
    ann = approved(client, people["staff"], people["reviewer"])
    audio = wait_for_audio(client, people["staff"], ann["id"])
    path = tmp_path / "a.mp3"
    path.write_bytes(client.get(audio["url"]).content)
    info = ffprobe(path)
    assert info["format"]["format_name"] == "mp3"
    assert info["streams"][0]["codec_name"] == "mp3"
    assert info["streams"][0]["channels"] == 1
    assert abs(float(info["format"]["duration"]) * 1000 - audio["duration_ms"]) < 250


def test_a_longer_script_lasts_longer(client: TestClient, people) -> None:
    short = approved(client, people["staff"], people["reviewer"])
    long = approved(client, people["staff"], people["reviewer"], body=LONGER_TEXT)
    short_ms = wait_for_audio(client, people["staff"], short["id"])["duration_ms"]
    long_ms = wait_for_audio(client, people["staff"], long["id"])["duration_ms"]
    assert long_ms > 1.8 * short_ms, (short_ms, long_ms)


def test_render_previews_a_draft_and_approval_reuses_it(client: TestClient, people) -> None:
    ann = create(client, people["staff"])
    pending = action(client, people["staff"], ann["id"], "render")
    assert (pending["status"], pending["audio"]["status"]) == ("draft", "pending")
    audio = wait_for_audio(client, people["staff"], ann["id"])
    assert audio["status"] == "ready"
    action(client, people["staff"], ann["id"], "submit")
    done = action(client, people["reviewer"], ann["id"], "approve")
    assert done["audio"] == audio  # ready at once: the revision did not change
    metrics = client.get("/metrics").text
    count = [line for line in metrics.splitlines()
             if line.startswith("cunxiang_render_seconds_count")]
    assert count and float(count[0].split()[-1]) >= 1


def test_a_failing_engine_shows_failed_with_the_reason(
    env, monkeypatch: pytest.MonkeyPatch, client: TestClient, people
) -> None:
    monkeypatch.setenv("CUNXIANG_TTS_ENGINE", "command")
    monkeypatch.setenv("CUNXIANG_TTS_COMMAND", "false")
    reset_settings()
    ann = approved(client, people["staff"], people["reviewer"])
    audio = wait_for_audio(client, people["staff"], ann["id"])
    assert audio["status"] == "failed"
    assert audio["error"] and audio["sha256"] is None


def test_a_job_held_by_a_dead_process_is_taken_again_after_its_lease(
    client: TestClient, people
) -> None:
    stop_render_worker(client)
    ann = approved(client, people["staff"], people["reviewer"])
    with session_scope() as session:  # a process claims the job, then dies
        claimed = queue.claim_next_job(session, worker_id="dead-host:1:x")
    assert claimed is not None
    with _worker(client):
        with pytest.raises(AssertionError):  # the lease still runs: nobody else takes it
            wait_for_audio(client, people["staff"], ann["id"], timeout=2.5)
        with session_scope() as session:  # … until it runs out
            session.execute(update(RenderJob).where(RenderJob.id == claimed.job_id)
                            .values(lease_until=utcnow() - timedelta(seconds=1)))
        audio = wait_for_audio(client, people["staff"], ann["id"])
    assert audio["status"] == "ready"
    with session_scope() as session:
        job = session.get(RenderJob, claimed.job_id)
        assert job is not None
        assert (job.state, job.attempts) == ("done", 2)
        assert job.claimed_by != "dead-host:1:x"


def test_workers_never_claim_the_same_job(client: TestClient, people) -> None:
    stop_render_worker(client)
    for n in range(6):  # different texts: jobs of one text wait for each other
        approved(client, people["staff"], people["reviewer"], title=f"通知{n}",
                 body=f"第{n + 1}号通知：明天上午九点开会。")
    claims: list[str] = []
    barrier = threading.Barrier(4)

    def claimer(name: str) -> None:
        barrier.wait()
        while True:
            with session_scope() as session:
                job = queue.claim_next_job(session, worker_id=name)
            if job is None:
                return
            claims.append(job.job_id)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    with session_scope() as session:
        jobs = list(session.scalars(select(RenderJob)))
    assert len(jobs) == 6
    assert sorted(claims) == sorted(j.id for j in jobs)  # each exactly once
    assert all(j.state == "running" for j in jobs)


def test_audio_ready_is_emitted_once_the_approved_audio_is_stored(
    client: TestClient, people, events
) -> None:
    ann = approved(client, people["staff"], people["reviewer"])
    assert ("announcement.audio_ready", {"announcement_id": ann["id"]}) not in events
    wait_for_audio(client, people["staff"], ann["id"])
    assert events == [("announcement.approved", {"announcement_id": ann["id"]}),
                      ("announcement.audio_ready", {"announcement_id": ann["id"]})]
    draft = create(client, people["staff"], title="草稿")
    action(client, people["staff"], draft["id"], "render")  # a preview is not "ready to play"
    wait_for_audio(client, people["staff"], draft["id"])
    assert len(events) == 2
