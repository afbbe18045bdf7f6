"""Recorded voices: check an upload is audio we accept, then master it like synthesised speech.

Accepted: mp3, wav, m4a/aac, ogg/opus (and webm/opus from browsers), amr, flac. ffmpeg
only opens local files and only through these demuxers, so an upload that is really a
playlist or a concat script cannot make it read anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

from app.rendering.cache import RenderCache, cache_key
from app.rendering.errors import AudioTooLong, UnreadableAudio, UnsupportedMedia
from app.rendering.pcm import SAMPLE_RATE, duration_ms
from app.rendering.pipeline import TARGET_LUFS, master_to_mp3
from app.rendering.render import (
    RENDER_VERSION,
    RenderResult,
    cached_result,
    default_cache_dir,
    store_mastered,
    with_chimes,
)
from app.storage.store import MediaBackend

__all__ = [
    "AudioInfo",
    "probe_audio",
    "header_duration_ms",
    "cached_recording",
    "decode_recording",
    "transcode_recording",
    "MAX_RECORDING_MS",
    "ACCEPTED_CODECS",
]

MAX_RECORDING_MS = 60 * 60 * 1000
_DEMUXERS = "mp3,wav,mov,ogg,amr,amrnb,amrwb,aac,flac,matroska"
_SAFE_INPUT = ["-protocol_whitelist", "file", "-format_whitelist", _DEMUXERS]
ACCEPTED_CODECS = frozenset(
    {
        "mp3",
        "mp2",
        "aac",
        "alac",
        "vorbis",
        "opus",
        "amr_nb",
        "amr_wb",
        "flac",
        "pcm_s16le",
        "pcm_s16be",
        "pcm_s24le",
        "pcm_s32le",
        "pcm_u8",
        "pcm_f32le",
        "pcm_f64le",
        "pcm_alaw",
        "pcm_mulaw",
        "adpcm_ima_wav",
        "adpcm_ms",
        "gsm_ms",
    }
)
_MIN_DECODED_MS = 100
_PROBE_S = 30.0  # reading a header takes milliseconds; a file that stalls ffprobe is refused


class AudioInfo(NamedTuple):
    """What ``probe_audio`` found: length in ms and the audio codec's ffmpeg name."""

    duration_ms: int
    codec: str


def _input(path: Path) -> str:
    # "file:" so a name such as "-x.mp3" or "http:x.mp3" is only ever a local file
    return "file:" + str(path.resolve())


def _ffprobe(path: Path) -> dict[str, Any]:
    command = [
        "ffprobe",
        "-v",
        "error",
        *_SAFE_INPUT,
        "-show_entries",
        "format=format_name,duration:stream=codec_type,codec_name,duration"
        ":stream_disposition=attached_pic",
        "-of",
        "json",
        _input(path),
    ]
    try:
        result = subprocess.run(command, capture_output=True, check=False, timeout=_PROBE_S)
    except subprocess.TimeoutExpired:
        raise UnreadableAudio("the recording could not be read (probing took too long)") from None
    if result.returncode != 0:
        raise UnsupportedMedia("the file is not audio in a supported format")
    try:
        data = json.loads(result.stdout or b"{}")
    except ValueError as exc:
        raise UnsupportedMedia("the file is not audio in a supported format") from exc
    return data if isinstance(data, dict) else {}


def _audio_stream(info: dict[str, Any]) -> dict[str, Any]:
    """The first audio stream; refuse video (cover art in an mp3 is fine)."""
    streams = info.get("streams") or []
    for stream in streams:
        is_cover = (stream.get("disposition") or {}).get("attached_pic") == 1
        if stream.get("codec_type") == "video" and not is_cover:
            raise UnsupportedMedia("the file is a video, not an audio recording")
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        raise UnsupportedMedia("the file has no audio")
    if audio[0].get("codec_name") not in ACCEPTED_CODECS:
        raise UnsupportedMedia(f"audio codec {audio[0].get('codec_name')!r} is not supported")
    return dict(audio[0])


def _seconds(*values: object) -> float | None:
    for value in values:
        try:
            seconds = float(str(value))
        except ValueError:
            continue
        if seconds > 0:
            return seconds
    return None


def _probe(source: Path) -> tuple[dict[str, Any], float | None]:
    """The first audio stream and the length its header states (seconds, or None)."""
    if not source.is_file() or source.stat().st_size == 0:
        raise UnreadableAudio("the recording is empty")
    info = _ffprobe(source)
    stream = _audio_stream(info)
    return stream, _seconds(stream.get("duration"), (info.get("format") or {}).get("duration"))


def header_duration_ms(path: str | os.PathLike[str]) -> int | None:
    """The length the file's header states, in ms (None if it states none); nothing decoded.

    Refuses what is not audio in a supported format, as ``probe_audio`` does.
    """
    _stream, seconds = _probe(Path(path))
    return None if seconds is None else int(seconds * 1000)


def probe_audio(
    path: str | os.PathLike[str], *, max_duration_ms: int = MAX_RECORDING_MS
) -> AudioInfo:
    """Length and codec of an uploaded recording; raises if it is not acceptable audio."""
    source = Path(path)
    stream, seconds = _probe(source)
    if seconds is None:  # raw streams (amr, adts) may not state a length: count it
        seconds = duration_ms(decode_recording(source, max_duration_ms=max_duration_ms)) / 1000
    length = int(seconds * 1000)
    if length > max_duration_ms:
        raise AudioTooLong(
            f"the recording lasts {length // 1000} s; the limit is {max_duration_ms // 1000} s"
        )
    return AudioInfo(length, str(stream["codec_name"]))


def decode_recording(
    path: str | os.PathLike[str], *, max_duration_ms: int = MAX_RECORDING_MS
) -> bytes:
    """Decode the first audio stream to internal PCM (mono, resampled)."""
    limit_s = max_duration_ms / 1000 + 1  # decode a little past the limit to notice it
    command = [
        "ffmpeg",
        "-nostdin",
        "-v",
        "error",
        *_SAFE_INPUT,
        "-i",
        _input(Path(path)),
        "-map",
        "0:a:0",
        "-vn",
        "-t",
        f"{limit_s:.3f}",
        "-ac",
        "1",
        "-ar",
        str(SAMPLE_RATE),
        "-f",
        "s16le",
        "-c:a",
        "pcm_s16le",
        "pipe:1",
    ]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or duration_ms(result.stdout) < _MIN_DECODED_MS:
        raise UnreadableAudio("the recording cannot be decoded (damaged or empty)")
    if duration_ms(result.stdout) > max_duration_ms:
        raise AudioTooLong(f"the recording is longer than {max_duration_ms // 1000} s")
    return result.stdout


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        for chunk in iter(lambda: reader.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _recording_key(source: Path, chime: bool) -> str:
    return cache_key(
        "recording",
        f"v{RENDER_VERSION}",
        f"chime={chime}",
        f"target={TARGET_LUFS}",
        _file_sha256(source),
    )


def cached_recording(
    path: str | os.PathLike[str], *, media_store: MediaBackend, chime: bool = False
) -> RenderResult | None:
    """The stored result of an earlier transcode of the same bytes, if there is one."""
    cache = RenderCache(default_cache_dir(media_store))
    return cached_result(cache, _recording_key(Path(path), chime), media_store)


def transcode_recording(
    path: str | os.PathLike[str],
    *,
    media_store: MediaBackend,
    chime: bool = False,
    max_duration_ms: int = MAX_RECORDING_MS,
    cache_dir: str | os.PathLike[str] | None = None,
    chime_dir: str | os.PathLike[str] | None = None,
) -> RenderResult:
    """Check, decode and master a recording into a mono MP3 in ``media_store``.

    Raises ``UnsupportedMedia`` (415), ``UnreadableAudio`` or ``AudioTooLong`` (422) and
    then stores nothing.
    """
    source = Path(path)
    probe_audio(source, max_duration_ms=max_duration_ms)
    cache = RenderCache(cache_dir if cache_dir is not None else default_cache_dir(media_store))
    key = _recording_key(source, chime)
    found = cached_result(cache, key, media_store)
    if found is not None:
        return found
    voice = decode_recording(source, max_duration_ms=max_duration_ms)
    program = with_chimes(voice, chime_dir) if chime else voice
    return store_mastered(master_to_mp3(program), media_store=media_store, cache=cache, key=key)
