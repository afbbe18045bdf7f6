"""Recordings decoded in a bounded worker process: refused from the header, killed when stuck."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from app.rendering import isolation
from app.rendering.errors import AudioTooLong, RecordingBusy, RecordingTimeout, UnreadableAudio
from app.rendering.isolation import check_length, transcode_isolated
from app.storage.store import MediaStore
from tests.rendering.audio_samples import probe, silence_flac, without_length

MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 40-minute FLAC (~0.4 MB), a 90-second one and the latter without a stated length."""
    root = tmp_path_factory.mktemp("bombs")
    short = silence_flac(root / "90s.flac", 90)
    return {
        "40min": silence_flac(root / "40min.flac", 40 * 60),
        "90s": short,
        "90s-unstated": without_length(short, root / "90s-unstated.flac"),
    }


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_header_refuses_a_40_minute_recording_of_a_few_hundred_kb(
    bombs: dict[str, Path],
) -> None:
    assert bombs["40min"].stat().st_size < 1024 * 1024

    with pytest.raises(AudioTooLong) as refused:
        check_length(bombs["40min"], max_duration_ms=30 * MINUTE_MS)

    assert (refused.value.status, refused.value.code) == (422, "audio_too_long")
    assert "40 min 00 s" in refused.value.message and "30 min 00 s" in refused.value.message
    assert check_length(bombs["40min"], max_duration_ms=45 * MINUTE_MS) == 40 * MINUTE_MS


def test_an_unstated_length_is_found_by_the_bounded_decode_and_nothing_is_stored(
    bombs: dict[str, Path], store: MediaStore
) -> None:
    assert "duration" not in probe(bombs["90s-unstated"])["format"]
    assert check_length(bombs["90s-unstated"], max_duration_ms=MINUTE_MS) is None

    with pytest.raises(AudioTooLong):
        transcode_isolated(bombs["90s-unstated"], media_store=store, max_duration_ms=MINUTE_MS,
                           slots=1)  # fmt: skip

    assert _files(store.root) == []
    assert multiprocessing.active_children() == []


def test_within_the_limit_the_worker_masters_it_into_the_store(
    bombs: dict[str, Path], store: MediaStore
) -> None:
    result = transcode_isolated(bombs["90s"], media_store=store, max_duration_ms=2 * MINUTE_MS,
                                slots=1)  # fmt: skip

    assert result.duration_ms == pytest.approx(90_000, abs=100)
    assert result.path.parent.parent == store.root and result.path.is_file()
    assert probe(result.path)["streams"][0]["codec_name"] == "mp3"


def test_a_worker_out_of_memory_fails_the_recording_not_the_server(
    bombs: dict[str, Path], store: MediaStore
) -> None:
    # So little address space that the worker cannot even decode: it dies, we answer 422.
    with pytest.raises(UnreadableAudio) as failed:
        transcode_isolated(bombs["90s"], media_store=store, max_duration_ms=2 * MINUTE_MS,
                           slots=1, memory_limit=16 * 1024 * 1024)  # fmt: skip

    assert (failed.value.status, failed.value.code) == (422, "unreadable_audio")
    assert "limits" in failed.value.message
    assert _files(store.root) == []
    assert multiprocessing.active_children() == []
    # This process (the server) was never limited: it still runs ffmpeg and Python at will.
    assert check_length(bombs["90s"], max_duration_ms=2 * MINUTE_MS) == 90_000


def test_the_decoding_happens_in_another_process(bombs: dict[str, Path], store: MediaStore) -> None:
    seen: set[str] = set()
    with concurrent.futures.ThreadPoolExecutor(1) as runner:
        job = runner.submit(transcode_isolated, bombs["90s"], media_store=store,
                            max_duration_ms=2 * MINUTE_MS, slots=1)  # fmt: skip
        while not job.done():
            seen.update(p.name for p in multiprocessing.active_children() if p.pid != os.getpid())
            time.sleep(0.01)
        assert job.result().duration_ms == pytest.approx(90_000, abs=100)

    assert "cunxiang-recording" in seen


def test_a_worker_past_its_time_limit_is_killed(bombs: dict[str, Path], store: MediaStore) -> None:
    with pytest.raises(RecordingTimeout) as stopped:
        transcode_isolated(bombs["90s"], media_store=store, max_duration_ms=2 * MINUTE_MS,
                           slots=1, time_limit_s=0.05)  # fmt: skip

    assert (stopped.value.status, stopped.value.code) == (503, "recording_timeout")
    assert multiprocessing.active_children() == []
    assert [p for p in _files(store.root) if p.suffix == ".mp3"] == []


def test_when_every_slot_stays_taken_the_caller_is_told_to_retry(
    bombs: dict[str, Path], store: MediaStore
) -> None:
    gate = isolation._slots(3)  # three transcodes already running in this process
    taken = [gate.acquire(timeout=1) for _ in range(3)]
    try:
        with pytest.raises(RecordingBusy) as busy:
            transcode_isolated(bombs["90s"], media_store=store, max_duration_ms=2 * MINUTE_MS,
                               slots=3, queue_wait_s=0.05)  # fmt: skip
    finally:
        for _ in range(sum(taken)):
            gate.release()

    assert (busy.value.status, busy.value.code) == (503, "busy")


def test_a_recording_done_before_is_answered_from_the_cache_under_todays_limit(
    bombs: dict[str, Path], store: MediaStore
) -> None:
    first = transcode_isolated(bombs["90s"], media_store=store, max_duration_ms=2 * MINUTE_MS,
                               slots=1)  # fmt: skip
    # No worker is started for it: with this time limit one would be stopped at once.
    again = transcode_isolated(bombs["90s"], media_store=store, max_duration_ms=2 * MINUTE_MS,
                               slots=1, time_limit_s=0.001)  # fmt: skip

    assert (again.sha256, again.cached) == (first.sha256, True)
    with pytest.raises(AudioTooLong):
        transcode_isolated(bombs["90s"], media_store=store, max_duration_ms=MINUTE_MS, slots=1)
