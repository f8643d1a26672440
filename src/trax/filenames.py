"""Client-supplied file names (uploads, URL downloads) made safe to use on our disk."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None) -> str:
    """A client-supplied file name reduced to one harmless path component."""
    base = _SAFE_NAME.sub("_", PurePosixPath((name or "").replace("\\", "/")).name).strip("._")
    return base[:200] or "upload"
