"""Where media bytes live. A small protocol with a local-disk implementation.

Objects are content-addressed: the key is derived from the SHA-256 computed while the bytes are
copied in, so storing the same file twice keeps one copy.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

_CHUNK = 1 << 20


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int


class Storage(Protocol):
    def put_file(self, source: Path, suffix: str) -> StoredObject:
        """Copy ``source`` in, hashing it on the way; returns where it went."""
        ...

    def local_path(self, key: str) -> Path:
        """A local file path with the object's bytes (for decoding)."""
        ...

    def delete(self, key: str) -> None: ...


class LocalStorage:
    """Objects as files under ``root``: ``media/ab/<sha256><suffix>``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put_file(self, source: Path, suffix: str) -> StoredObject:
        incoming = self.root / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp_name = tempfile.mkstemp(dir=incoming)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as dst, source.open("rb") as src:
                while block := src.read(_CHUNK):
                    digest.update(block)
                    dst.write(block)
                    size += len(block)
            sha = digest.hexdigest()
            key = f"media/{sha[:2]}/{sha}{suffix.lower()}"
            target = self.root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        return StoredObject(key=key, sha256=sha, size=size)

    def local_path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"storage key escapes the storage root: {key}")
        return path

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)
