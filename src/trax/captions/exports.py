"""Writing a transcript's export files to a directory."""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path

from trax.captions.formats import CaptionStyle, ExportFormat, render, suffix
from trax.engine.result import TranscriptDocument

_CREATE_MODE = 0o666  # less the umask


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a reader never sees half a file).

    The file gets the mode the user's umask gives (0644 under umask 022), like any file a shell
    command writes: the temporary file is opened with mode 0666 for the kernel to mask, not made
    by :func:`tempfile.mkstemp`, whose 0600 would carry over to the export.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _CREATE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_exports(
    document: TranscriptDocument,
    formats: Sequence[ExportFormat],
    output_dir: Path,
    stem: str,
    style: CaptionStyle = CaptionStyle(),
) -> list[Path]:
    """One file per format, ``<stem><suffix>`` in ``output_dir``."""
    return [
        write_text(output_dir / f"{stem}{suffix(fmt)}", render(document, fmt, style))
        for fmt in formats
    ]
