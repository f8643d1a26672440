"""Bringing a file in: check it, probe it, hash and store it, record it once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from trax.engine.audio import MediaProbe, probe
from trax.media import repository
from trax.media.models import Media
from trax.storage import Storage, StoredObject


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_duration: float


@dataclass(frozen=True)
class StagedMedia:
    """A probed file whose bytes are in storage, not yet recorded."""

    probe: MediaProbe
    stored: StoredObject
    filename: str


async def stage_file(storage: Storage, path: Path, limits: Limits) -> StagedMedia:
    """Probe ``path`` (refusing bad or oversize input before decoding) and copy it to storage.

    Raises :class:`~trax.errors.MediaError` naming the file and the reason.
    """
    probed = await anyio.to_thread.run_sync(
        lambda: probe(path, max_bytes=limits.max_bytes, max_duration=limits.max_duration)
    )
    stored = await anyio.to_thread.run_sync(storage.put_file, path, path.suffix)
    return StagedMedia(probe=probed, stored=stored, filename=path.name)


async def record(session: AsyncSession, staged: StagedMedia) -> Media:
    """The media row for these bytes: the existing one, or a new one."""
    existing = await repository.get_by_sha256(session, staged.stored.sha256)
    if existing is not None:
        return existing
    p = staged.probe
    return await repository.add(
        session,
        Media(
            sha256=staged.stored.sha256,
            filename=staged.filename,
            size_bytes=staged.stored.size,
            duration=p.duration,
            format_name=p.format_name,
            audio_codec=p.audio_codec,
            has_video=p.has_video,
            storage_key=staged.stored.key,
        ),
    )
