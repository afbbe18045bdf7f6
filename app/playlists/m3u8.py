"""Extended M3U playlists (pure): what players such as ffplay, VLC and mpv open.

The file is also a valid HLS media playlist (VOD, version 3), because ffmpeg's parser
recognises an ``#EXTM3U`` file only by its HLS tags; other players read the same
``#EXTINF`` lines either way. Media URLs carry the ``.mp3`` suffix (``/media/<sha256>.mp3``
serves the same file): ffmpeg's HLS reader refuses segments without a known extension.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["render_m3u8", "M3U8_MEDIA_TYPE", "MEDIA_SUFFIX"]

M3U8_MEDIA_TYPE = "application/vnd.apple.mpegurl"
MEDIA_SUFFIX = ".mp3"


def _title(value: Any) -> str:
    # One line per entry: a line break in a title would start a bogus URL line.
    return " ".join(str(value or "").split())


def render_m3u8(items: Iterable[Mapping[str, Any]], *, base_url: str) -> str:
    """The playlist text: ``#EXTINF:<seconds>,<title>`` and the absolute URL of each item."""
    entries = list(items)
    base = base_url.rstrip("/")
    longest = max((int(e["duration_ms"]) for e in entries), default=0)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest / 1000))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    for entry in entries:
        seconds = int(entry["duration_ms"]) / 1000
        lines.append(f"#EXTINF:{seconds:.3f},{_title(entry.get('title'))}")
        lines.append(base + str(entry["url"]) + MEDIA_SUFFIX)
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
