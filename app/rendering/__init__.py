"""Text and recordings → announcement audio (pure: no database, no web framework).

Entry points: ``render_script`` (a script → MP3 in the media store), ``transcode_recording``
(an upload → MP3; ``transcode_isolated`` runs it in a bounded worker process, as the server
does), ``probe_audio`` (is it audio we accept?), ``to_pinyin_lines`` (what
``cunxiang render --pinyin`` prints) and ``make_engine`` (an engine by name).
"""

from app.rendering.engines import Engine, engine_names, make_engine, register_engine
from app.rendering.errors import (
    AudioTooLong,
    EmptyScript,
    RenderingError,
    SynthesisFailed,
    UnknownEngine,
    UnreadableAudio,
    UnsupportedMedia,
)
from app.rendering.isolation import check_length, transcode_isolated
from app.rendering.normalize import Segment, normalize_text, split_segments
from app.rendering.pinyin import to_pinyin, to_pinyin_lines
from app.rendering.recordings import AudioInfo, probe_audio, transcode_recording
from app.rendering.render import RenderResult, render_script

__all__ = [
    "Engine",
    "make_engine",
    "register_engine",
    "engine_names",
    "RenderingError",
    "UnsupportedMedia",
    "UnreadableAudio",
    "AudioTooLong",
    "EmptyScript",
    "SynthesisFailed",
    "UnknownEngine",
    "Segment",
    "normalize_text",
    "split_segments",
    "to_pinyin",
    "to_pinyin_lines",
    "AudioInfo",
    "probe_audio",
    "transcode_recording",
    "check_length",
    "transcode_isolated",
    "RenderResult",
    "render_script",
]
