"""Recordings are decoded and mastered in a worker process with limits, never in the server.

A recording can be tiny and still decode to hours of audio (a 632 KB FLAC of 59 minutes is
~160 MB of PCM; four at once once took a server 403 s and 1.6 GB). So:

- ``check_length`` reads the length from the file's header with ffprobe (no decoding) and
  refuses a recording over the limit before anything is decoded;
- ``transcode_isolated`` runs ``transcode_recording`` in a separate process, at most
  ``slots`` at a time per server process (the others wait their turn, up to a limit), with
  its address space capped (``MEMORY_LIMIT_BYTES``, ffmpeg included) and a wall-clock
  limit (``TIME_LIMIT_S``) after which it is killed. A header that lies about the length
  changes nothing: the decode itself stops a second past the limit.

The worker writes the mastered MP3 into the media store (a file appears there only once
complete) and hands back the ``RenderResult``; a refused or failed recording stores nothing.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import resource
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from app.rendering.errors import (
    AudioTooLong,
    RecordingBusy,
    RecordingTimeout,
    RenderingError,
    UnreadableAudio,
    UnsupportedMedia,
)
from app.rendering.recordings import cached_recording, header_duration_ms, transcode_recording
from app.rendering.render import RenderResult
from app.storage.backend import MediaConfig, open_store
from app.storage.store import MediaBackend, MediaStore

__all__ = [
    "MEMORY_LIMIT_BYTES",
    "TIME_LIMIT_S",
    "QUEUE_WAIT_S",
    "check_length",
    "process_context",
    "transcode_isolated",
    "warm_process_context",
]

# 30 minutes decode to ~80 MB of PCM, held twice at most while mastering: 1 GiB is ample.
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
# Mastering 30 minutes of speech takes about a minute on a small machine.
TIME_LIMIT_S = 600.0
QUEUE_WAIT_S = 120.0
_PRELOAD = (
    "__main__", "app.rendering", "app.announcements.render_task",
    "app.rendering.warm",  # the pinyin phrasebook, loaded once for every worker
)


def check_length(path: str | os.PathLike[str], *, max_duration_ms: int) -> int | None:
    """The length the header states (ms, or None); ``AudioTooLong`` if over the limit.

    Also refuses what is not audio (``UnsupportedMedia``). Nothing is decoded.
    """
    length = header_duration_ms(Path(path))
    if length is not None and length > max_duration_ms:
        raise _too_long(length, max_duration_ms)
    return length


def _too_long(length_ms: int, max_duration_ms: int) -> AudioTooLong:
    return AudioTooLong(
        f"the recording lasts {_minutes(length_ms)}; the limit is {_minutes(max_duration_ms)}"
    )


def _minutes(ms: int) -> str:
    seconds = ms // 1000
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


@functools.lru_cache(maxsize=8)
def _slots(count: int) -> threading.BoundedSemaphore:
    """The process-wide limit on transcodes running at once (one per configured count)."""
    return threading.BoundedSemaphore(count)


def process_context() -> Any:
    """The multiprocessing context of every rendering worker process (recordings, renders).

    forkserver: workers fork from a clean process (no threads, sockets or database
    connections of the server). It imports the rendering modules and the program's main
    module once, when it starts; a worker then starts in milliseconds instead of importing
    them again. The render worker uses this context too: the preload list is shared.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(_PRELOAD))
    return context


def warm_process_context() -> None:
    """Start the fork server (and its imports) ahead of the first worker; idempotent."""
    from multiprocessing import forkserver

    process_context()
    forkserver.ensure_running()


def transcode_isolated(
    path: str | os.PathLike[str],
    *,
    media_store: MediaBackend,
    max_duration_ms: int,
    slots: int,
    media_config: MediaConfig | None = None,
    memory_limit: int = MEMORY_LIMIT_BYTES,
    time_limit_s: float = TIME_LIMIT_S,
    queue_wait_s: float = QUEUE_WAIT_S,
) -> RenderResult:
    """``transcode_recording`` in a bounded worker process; raises as it does, or

    ``RecordingBusy`` (503) when no slot frees within ``queue_wait_s``, ``RecordingTimeout``
    (503) when the worker runs past ``time_limit_s`` (it is killed), ``UnreadableAudio``
    (422) when it dies (out of memory, say). A store other than a local directory (an object
    store's client does not cross processes) needs ``media_config``: the worker opens its own.
    """
    earlier = cached_recording(path, media_store=media_store)  # the same bytes, done before
    if earlier is not None:
        if earlier.duration_ms > max_duration_ms:
            raise _too_long(earlier.duration_ms, max_duration_ms)
        return earlier
    check_length(path, max_duration_ms=max_duration_ms)
    gate = _slots(max(1, slots))
    if not gate.acquire(timeout=queue_wait_s):
        raise RecordingBusy("the server is busy with other recordings; try again in a minute")
    try:
        target = media_store if isinstance(media_store, MediaStore) else media_config
        if target is None:
            raise RenderingError("an object store needs its MediaConfig to cross processes")
        return _run(Path(path), target, max_duration_ms, memory_limit, time_limit_s)
    finally:
        gate.release()


def _run(
    path: Path, store: MediaStore | MediaConfig, max_duration_ms: int, memory_limit: int,
    time_limit_s: float,
) -> RenderResult:
    context = process_context()
    receiver, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_work,
        args=(sender, str(path), store, max_duration_ms, memory_limit),
        name="cunxiang-recording",
        daemon=True,
    )
    worker.start()
    sender.close()  # ours is closed: a dead worker now reads as end of file
    try:
        answer = _receive(receiver, time_limit_s)
    finally:
        receiver.close()
        if worker.is_alive():
            worker.kill()
        worker.join()
    if answer is None:
        raise UnreadableAudio(
            "the recording could not be decoded within the worker's memory limit "
            f"(the worker ended with code {worker.exitcode})"
        )
    if isinstance(answer, UnsupportedMedia):
        # The header was read fine here a moment ago: in the worker only its limits differ.
        raise UnreadableAudio(
            f"the recording could not be processed within the worker's limits ({answer.message})"
        )
    if isinstance(answer, BaseException):
        raise answer
    if not isinstance(answer, RenderResult):
        raise RenderingError(f"the recording worker answered {type(answer).__name__}")
    return answer


def _receive(receiver: Connection, time_limit_s: float) -> object:
    """The worker's answer; None if it died; ``RecordingTimeout`` if it took too long."""
    if not receiver.poll(time_limit_s):
        raise RecordingTimeout(
            f"the recording took longer than {time_limit_s:.0f} s to process and was stopped"
        )
    try:
        return receiver.recv()
    except (EOFError, OSError):
        return None


def _work(
    sender: Connection, path: str, store: MediaStore | MediaConfig, max_duration_ms: int,
    memory_limit: int,
) -> None:
    """In the worker process: cap the address space, transcode, send back the result."""
    with contextlib.suppress(ValueError, OSError):  # a lower hard limit stays as it is
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    answer: object
    try:
        backend = open_store(store) if isinstance(store, MediaConfig) else store
        answer = transcode_recording(path, media_store=backend, max_duration_ms=max_duration_ms)
    except RenderingError as exc:
        answer = type(exc)(exc.message)
    except MemoryError:
        answer = UnreadableAudio("the recording needs more memory to decode than is allowed")
    sender.send(answer)
    sender.close()
