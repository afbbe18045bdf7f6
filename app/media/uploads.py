"""Receiving an uploaded file: the multipart body streams to a temporary file, never to memory.

Bytes are counted as they arrive and the upload stops the moment it passes the limit, so a
50 MB recording never sits in memory and a 5 GB one is never read to the end. The
temporary file lives in the media directory (same disk as the store) and is removed by
``Upload.discard`` whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from app.errors import BadRequest, InvalidInput, PayloadTooLarge, UnsupportedMedia

__all__ = [
    "Upload",
    "receive_file",
    "check_declared_length",
    "UPLOAD_DIR_NAME",
    "MULTIPART_OVERHEAD",
]

UPLOAD_DIR_NAME = ".uploads"
# Room for the multipart framing and a few small fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


@dataclass
class Upload:
    """A received file on disk: remove it with ``discard`` once it has been dealt with."""

    path: Path
    filename: str | None
    size: int

    def discard(self) -> None:
        """Delete the temporary file (no error if it is already gone)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


@dataclass
class _Receiver:
    """Multipart callbacks: write the wanted field's bytes to a temporary file, counting."""

    field_name: str
    directory: Path
    max_bytes: int
    header_name: bytes = b""
    header_value: bytes = b""
    disposition: bytes = b""
    out: BinaryIO | None = None
    path: Path | None = None
    filename: str | None = None
    size: int = 0
    done: bool = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self._add("header_name", d[s:e]),
            "on_header_value": lambda d, s, e: self._add("header_value", d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def _add(self, name: str, data: bytes) -> None:
        setattr(self, name, getattr(self, name) + data)

    def part_begin(self) -> None:
        self.disposition = b""

    def header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def headers_finished(self) -> None:
        _kind, options = parse_options_header(self.disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name != self.field_name or self.done or self.out is not None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.directory, prefix="upload-", suffix=".part")
        self.out, self.path = os.fdopen(fd, "wb"), Path(temp_name)
        raw_name = options.get(b"filename")
        # Kept as the media's title: no control characters (a NUL cannot be stored).
        name = raw_name.decode("utf-8", "replace") if raw_name else ""
        self.filename = "".join(c for c in name if c.isprintable())[:200] or None

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is None:
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise PayloadTooLarge(
                f"the file is larger than the limit of {self.max_bytes // (1024 * 1024)} MB"
            )
        self.out.write(data[start:end])

    def part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out, self.done = None, True

    def cleanup(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def _boundary(content_type: str | None) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedMedia("send the file as multipart/form-data")
    return options[b"boundary"]


def check_declared_length(content_length: str | None, max_bytes: int) -> None:
    """Refuse at once a body whose declared length is already over the limit (413)."""
    declared = int(content_length) if content_length and content_length.isdigit() else 0
    if declared > max_bytes + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(
                f"the file is larger than the limit of {max_bytes // (1024 * 1024)} MB"
            )


async def receive_file(
    chunks: AsyncIterator[bytes],
    *,
    content_type: str | None,
    field_name: str,
    directory: Path,
    max_bytes: int,
) -> Upload:
    """Stream the multipart field ``field_name`` to a temporary file in ``directory``.

    413 past ``max_bytes`` (reading stops there), 415 if the body is not multipart, 422
    without the field; on any failure the temporary file is gone.
    """
    receiver = _Receiver(field_name=field_name, directory=directory, max_bytes=max_bytes)
    try:
        parser = MultipartParser(_boundary(content_type), receiver.callbacks())  # type: ignore[arg-type]
        async for chunk in chunks:
            if chunk:
                parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        receiver.cleanup()
        raise BadRequest(f"malformed multipart body: {exc}") from None
    except BaseException:
        receiver.cleanup()
        raise
    if not receiver.done or receiver.path is None:
        receiver.cleanup()
        raise InvalidInput(f"the multipart field {field_name!r} (the file) is missing",
                           fields=[{"field": field_name, "detail": "required"}])
    return Upload(path=receiver.path, filename=receiver.filename, size=receiver.size)
