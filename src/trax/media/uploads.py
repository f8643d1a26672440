"""Receiving a multipart upload without holding it: streamed straight to a file under the limit.

FastAPI's ``UploadFile`` would spool the whole body to a temporary file before the endpoint runs,
so an oversize upload would already be on disk when it is refused. Here the ``Content-Length``
header is checked first, then the body is parsed as it arrives (python-multipart's streaming
parser) and the file part is written as it comes, refused (and removed) the moment it passes the
limit. The other fields are held in memory, so there may be only a few, small ones: 8000 fields of
64 KB each once took the server to 1.2 GB.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from trax import errors, workfiles
from trax.bodies import allow_body
from trax.filenames import safe_filename

NOT_MULTIPART = "send the file as multipart/form-data with a 'file' part"
NO_FILE_PART = "the request has no 'file' part"
BAD_MULTIPART = "the multipart body is malformed: {reason}"
TOO_MANY_FIELDS = "the form has more than {limit} fields besides the file"
FIELDS_TOO_LARGE = "the form fields besides the file are over {limit} bytes together"
PART_HEADERS_TOO_LARGE = "a part's headers are over {limit} bytes"
#: The form fields besides the file (the OpenAI-compatible form has about ten, all short).
_MAX_FIELDS = 64
_MAX_FIELDS_BYTES = 64 * 1024
_MAX_PART_HEADER_BYTES = 16 * 1024
#: Room for the multipart framing and the small form fields around the file.
_FRAMING_BYTES = _MAX_FIELDS_BYTES + (_MAX_FIELDS + 1) * 1024


@dataclass
class ReceivedUpload:
    """The uploaded file on disk (in its own folder; remove it with :meth:`discard`) and the
    other form fields."""

    path: Path
    fields: dict[str, list[str]]
    #: How many fields and bytes of fields were received (bounded by the limits above).
    field_count: int = 0
    field_bytes: int = 0

    def field(self, name: str) -> str | None:
        """The first value of a form field, if it was sent."""
        values = self.fields.get(name)
        return values[0] if values else None

    async def discard(self) -> None:
        folder = self.path.parent
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    field_name: str = ""
    filename: str | None = None
    value: bytearray = field(default_factory=bytearray)


UPLOAD_TOO_LARGE = "upload is over the {limit}-byte limit"


class _Collector:
    """python-multipart callbacks (synchronous): collect events for the async writer."""

    def __init__(self) -> None:
        self.part = _Part()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.header_bytes = 0
        self.events: list[tuple[str, _Part, bytes]] = []

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._header(self.header_field, d[s:e]),
            "on_header_value": lambda d, s, e: self._header(self.header_value, d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_done,
            "on_part_data": lambda d, s, e: self.events.append(("data", self.part, d[s:e])),
            "on_part_end": lambda: self.events.append(("end", self.part, b"")),
        }

    def _begin(self) -> None:
        self.part = _Part()
        self.header_bytes = 0

    def _header(self, into: bytearray, data: bytes) -> None:
        self.header_bytes += len(data)
        if self.header_bytes > _MAX_PART_HEADER_BYTES:
            limit = _MAX_PART_HEADER_BYTES
            raise errors.RequestTooLargeError(PART_HEADERS_TOO_LARGE.format(limit=limit))
        into.extend(data)

    def _header_end(self) -> None:
        name = self.header_field.decode("latin-1").lower()
        self.part.headers[name] = self.header_value.decode("latin-1")
        self.header_field.clear()
        self.header_value.clear()

    def _headers_done(self) -> None:
        _, params = parse_options_header(self.part.headers.get("content-disposition", ""))
        self.part.field_name = params.get(b"name", b"").decode("utf-8", "replace")
        raw = params.get(b"filename")
        self.part.filename = raw.decode("utf-8", "replace") if raw is not None else None
        self.events.append(("start", self.part, b""))


def _refuse(name: str | None, limit: int) -> errors.MediaTooLargeError:
    return errors.MediaTooLargeError(safe_filename(name), UPLOAD_TOO_LARGE.format(limit=limit))


async def receive_upload(request: Request, root: Path, max_bytes: int) -> ReceivedUpload:
    """Stream the request's ``file`` part to ``root/uploads/<owner~random>/<safe name>``.

    Raises :class:`~trax.errors.MediaTooLargeError` (413) from the ``Content-Length`` header
    before reading, or as soon as the streamed file passes ``max_bytes``; nothing is left behind.
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise errors.UsageError(NOT_MULTIPART)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes + _FRAMING_BYTES:
        raise _refuse(None, max_bytes)
    allow_body(request, max_bytes + _FRAMING_BYTES)
    folder = await anyio.to_thread.run_sync(workfiles.new_folder, root / workfiles.UPLOADS)
    received = ReceivedUpload(path=folder / "upload", fields={})
    try:
        await _stream(request, params[b"boundary"], received, max_bytes)
    except BaseException:
        await received.discard()
        raise
    if not received.path.exists():
        await received.discard()
        raise errors.UsageError(NO_FILE_PART)
    return received


async def _stream(request: Request, boundary: bytes, out: ReceivedUpload, max_bytes: int) -> None:
    collector = _Collector()
    parser = MultipartParser(boundary, collector.callbacks())  # type: ignore[arg-type]
    file: anyio.AsyncFile[bytes] | None = None
    size = 0
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except FormParserError as exc:
                raise errors.UsageError(BAD_MULTIPART.format(reason=exc)) from exc
            for kind, part, data in collector.events:
                if part.filename is None or part.field_name != "file":
                    _field(out, kind, part, data)
                elif kind == "start" and file is None:
                    out.path = out.path.parent / safe_filename(part.filename)
                    file = await anyio.open_file(out.path, "wb")
                elif kind == "data" and file is not None:
                    size += len(data)
                    if size > max_bytes:
                        raise _refuse(part.filename, max_bytes)
                    await file.write(data)
            collector.events.clear()
        parser.finalize()
    finally:
        if file is not None:
            await file.aclose()


def _field(out: ReceivedUpload, kind: str, part: _Part, data: bytes) -> None:
    if kind == "start":
        out.field_count += 1
        if out.field_count > _MAX_FIELDS:
            raise errors.RequestTooLargeError(TOO_MANY_FIELDS.format(limit=_MAX_FIELDS))
    elif kind == "data":
        out.field_bytes += len(data)
        if out.field_bytes > _MAX_FIELDS_BYTES:
            raise errors.RequestTooLargeError(FIELDS_TOO_LARGE.format(limit=_MAX_FIELDS_BYTES))
        part.value.extend(data)
    elif kind == "end" and part.field_name:
        out.fields.setdefault(part.field_name, []).append(part.value.decode("utf-8", "replace"))
