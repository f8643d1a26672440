"""Bringing a file in: check it, probe it, hash and store it, record it once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import anyio
import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.config import Settings
from trax.engine.audio import MediaProbe, probe
from trax.jobs import control
from trax.media import repository
from trax.media.models import Media
from trax.pagination import PageRequest, paged
from trax.projects import service as projects
from trax.runtime import Runtime
from trax.storage import Storage, StoredObject
from trax.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_duration: float

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(settings.max_file_bytes, settings.max_duration_seconds)


@dataclass(frozen=True)
class StagedMedia:
    """A probed file whose bytes are in storage, not yet recorded; ``source`` is the local file
    they came from (kept until recorded, to store them again if they vanished meanwhile)."""

    probe: MediaProbe
    stored: StoredObject
    filename: str
    source: Path


async def stage_file(storage: Storage, path: Path, limits: Limits) -> StagedMedia:
    """Probe ``path`` (refusing bad or oversize input before decoding) and copy it to storage.

    Raises :class:`~trax.errors.MediaError` naming the file and the reason.
    """
    probed = await anyio.to_thread.run_sync(
        lambda: probe(path, max_bytes=limits.max_bytes, max_duration=limits.max_duration)
    )
    stored = await anyio.to_thread.run_sync(storage.put_file, path, path.suffix)
    return StagedMedia(probe=probed, stored=stored, filename=path.name, source=path)


async def stage_received(rt: Runtime, path: Path) -> StagedMedia:
    """Probe and store a received file (upload, download); errors name the file by its name
    only, never by our server path. Record it with :func:`ingest_received`."""
    try:
        staged = await stage_file(rt.storage, path, Limits.of(rt.settings))
    except errors.MediaError as exc:
        raise type(exc)(path.name, exc.reason) from exc
    return staged


async def ingest_received(
    session: AsyncSession, storage: Storage, staged: StagedMedia, owner_id: str,
    project_id: str | None,
) -> Media:  # fmt: skip
    """Record a staged upload or download for its owner (in the caller's unit of work)."""
    if project_id:
        await projects.get_project(session, project_id, owner_id)
    return await record(session, storage, staged, owner_id, project_id or None)


async def record(
    session: AsyncSession,
    storage: Storage,
    staged: StagedMedia,
    owner_id: str | None = None,
    project_id: str | None = None,
) -> Media:
    """The owner's media row for these bytes: the existing one, or a new one.

    The stored object's row is locked first (as :func:`delete_media` does), so concurrent
    records of the same bytes see each other's rows (one row per owner), and a deletion that
    removed the bytes just before is noticed: they are stored again from ``staged.source``."""
    key = staged.stored.key
    await repository.lock_object(session, key)
    if not await anyio.to_thread.run_sync(storage.exists, key):
        await anyio.to_thread.run_sync(storage.put_file, staged.source, staged.source.suffix)
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
    return paged(rows, page)


async def delete_media(
    uow: UnitOfWork, storage: Storage, media_id: str, owner_id: str | None
) -> None:
    """Delete the media row (its transcripts go with it), fail its unfinished jobs, and remove
    the stored bytes once no media row uses them.

    The decision is made under the stored object's row lock, which :func:`record` takes too: an
    upload of the same bytes by another owner either committed first (its row is seen and the
    bytes stay) or comes after (and stores the bytes again). The bytes are removed before the
    commit, under that lock; if the commit then fails, only this media's own bytes are gone."""
    media = await get_media(uow.session, media_id, owner_id)
    await control.media_deleted(uow, media)
    key = media.storage_key
    await repository.lock_object(uow.session, key)
    await repository.delete(uow.session, media)
    if not await repository.storage_key_in_use(uow.session, key):
        await repository.forget_object(uow.session, key)
        await anyio.to_thread.run_sync(storage.delete, key)


UPLOAD_TOO_LARGE = "upload is over the {limit}-byte limit"
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None) -> str:
    """A client-supplied file name reduced to one harmless path component."""
    base = _SAFE_NAME.sub("_", PurePosixPath((name or "").replace("\\", "/")).name).strip("._")
    return base[:200] or "upload"
