"""Writing a transcript's export files to a directory."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from trax.captions.formats import CaptionStyle, ExportFormat, render, suffix
from trax.engine.result import TranscriptDocument


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
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
