"""Bringing a file in: check it, probe it, hash and store it, record it once."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import anyio
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.engine.audio import MediaProbe, probe
from trax.media import repository
from trax.media.models import Media
from trax.pagination import PageRequest, paged
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


async def record(
    session: AsyncSession,
    staged: StagedMedia,
    owner_id: str | None = None,
    project_id: str | None = None,
) -> Media:
    """The owner's media row for these bytes: the existing one, or a new one."""
    existing = await repository.get_by_sha256(session, staged.stored.sha256, owner_id)
    if existing is not None:
        return existing
    p = staged.probe
    return await repository.add(
        session,
        Media(
            owner_id=owner_id,
            project_id=project_id,
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


MEDIA_NOT_FOUND = "no media with id {media_id!r}"


async def get_media(session: AsyncSession, media_id: str, owner_id: str | None) -> Media:
    """The media row, if ``owner_id`` owns it (``None``: the operator, who sees everything).
    Another owner's media is reported as not found, never as forbidden."""
    media = await repository.get(session, media_id)
    if media is None or (owner_id is not None and media.owner_id != owner_id):
        raise errors.NotFoundError(MEDIA_NOT_FOUND.format(media_id=media_id))
    return media


async def list_media(
    session: AsyncSession, owner_id: str, project_id: str | None, page: PageRequest
) -> tuple[list[Media], str | None]:
    rows = await repository.list_page(session, owner_id, project_id, page)
    return paged(rows, page, lambda m: (m.created_at, m.id))


async def delete_media(session: AsyncSession, media_id: str, owner_id: str | None) -> str | None:
    """Delete the row (its transcripts go with it); returns the storage key to remove once the
    deletion is committed, or None when another row still uses the same stored bytes."""
    media = await get_media(session, media_id, owner_id)
    key = media.storage_key
    await repository.delete(session, media)
    return None if await repository.storage_key_in_use(session, key) else key


UPLOAD_TOO_LARGE = "upload is over the {limit}-byte limit"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None) -> str:
    """A client-supplied file name reduced to one harmless path component."""
    base = _SAFE_NAME.sub("_", PurePosixPath((name or "").replace("\\", "/")).name).strip("._")
    return base[:200] or "upload"


async def save_upload(
    root: Path, name: str | None, chunks: AsyncIterator[bytes], max_bytes: int
) -> Path:
    """Stream an upload into ``root/uploads/<random>/<safe name>``, refusing it (and removing
    the partial file) as soon as it passes ``max_bytes``."""
    folder = root / "uploads" / uuid.uuid4().hex
    await anyio.to_thread.run_sync(lambda: folder.mkdir(parents=True, exist_ok=True))
    target = folder / safe_filename(name)
    size = 0
    try:
        async with await anyio.open_file(target, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    reason = UPLOAD_TOO_LARGE.format(limit=max_bytes)
                    raise errors.MediaTooLargeError(safe_filename(name), reason)
                await out.write(chunk)
    except BaseException:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))
        raise
    return target
