"""Turning the paths a user names into the list of inputs to transcribe."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from trax import errors
from trax.engine.audio import is_media, probe


@dataclass(frozen=True)
class Skipped:
    """A file inside a directory that is not taken as an input, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Sources:
    """Inputs in a stable order, and files skipped inside directories because they are not media.

    A path named directly is always an input, even if it is missing or not media: it then fails
    with a reason. Inside a directory, only files whose content is media are taken.
    """

    inputs: list[Path] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def expand(paths: Iterable[Path]) -> Sources:
    """Expand directories recursively (hidden entries excluded), dropping duplicates."""
    result = Sources()
    seen: set[Path] = set()
    for path in paths:
        if not path.is_dir():
            _take(result.inputs, seen, path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                candidate = Path(root) / name
                if name.startswith("."):
                    continue
                if is_media(candidate):
                    _take(result.inputs, seen, candidate)
                else:
                    result.skipped.append(Skipped(candidate, _why_not_media(candidate)))
    return result


def _why_not_media(path: Path) -> str:
    """The reason a file that :func:`is_media` refused cannot be transcribed (no size limits:
    those apply to inputs, not to what a directory scan skips)."""
    try:
        probe(path, max_bytes=sys.maxsize, max_duration=math.inf)
    except errors.MediaError as exc:
        return exc.reason
    return errors.NOT_MEDIA


def _take(inputs: list[Path], seen: set[Path], path: Path) -> None:
    key = path.resolve() if path.exists() else path.absolute()
    if key not in seen:
        seen.add(key)
        inputs.append(path)
