"""Transcript rules: one transcript per media and recipe, versions per stage, lookup by id."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.media.models import Media
from trax.pagination import PageRequest, paged
from trax.transcripts import repository
from trax.transcripts.models import Transcript, TranscriptVersion
from trax.transcripts.schemas import TranscriptDetail, TranscriptSummary, VersionSummary

VERSION_NOT_FOUND = "transcript {ref} has no version {version}"
TRANSCRIPT_NOT_FOUND = "no transcript with id {ref!r}"
_PREVIEW_CHARS = 80


def recipe_key(options: TranscribeOptions) -> str:
    """What, besides the media bytes, decides a transcript's content."""
    canonical = json.dumps(options.as_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_cached(
    session: AsyncSession, media_id: str, options: TranscribeOptions
) -> Transcript | None:
    return await repository.find_by_recipe(session, media_id, recipe_key(options))


async def save_basic(
    session: AsyncSession, media: Media, options: TranscribeOptions, document: TranscriptDocument
) -> Transcript:
    """Store ``document`` as version 1 (stage ``basic``) of a new transcript. When another job
    stored the same media and recipe meanwhile (two identical files in one batch, a redelivered
    job), that transcript is returned and this document is dropped: it has the same words."""
    key = recipe_key(options)
    existing = await repository.add_once(session, media.id, key)
    if existing is not None:
        return existing
    transcript = await repository.find_by_recipe(session, media.id, key)
    assert transcript is not None
    version = TranscriptVersion(
        version=1,
        stage=document.provenance.stage,
        model=document.provenance.model,
        language=document.language,
        duration=document.duration,
        text=document.text,
        document=document.model_dump(mode="json"),
    )
    await repository.add_version(session, transcript, version)
    return transcript


def _summary(row: repository.Row) -> dict[str, object]:
    t, m, v = row
    preview = v.text if len(v.text) <= _PREVIEW_CHARS else v.text[: _PREVIEW_CHARS - 1] + "…"
    return {
        "id": t.id,
        "media_id": m.id,
        "filename": m.filename,
        "created_at": t.created_at,
        "version": v.version,
        "stage": v.stage,
        "model": v.model,
        "language": v.language,
        "duration": v.duration,
        "preview": preview,
    }


async def list_transcripts(session: AsyncSession, limit: int = 100) -> list[TranscriptSummary]:
    """Stored transcripts, newest first, each with its newest version."""
    rows = await repository.list_latest(session, limit)
    return [TranscriptSummary.model_validate(_summary(r)) for r in rows]


async def get_transcript(
    session: AsyncSession, ref: str, version: int | None = None, owner_id: str | None = None
) -> TranscriptDetail:
    """One transcript at ``version`` (default: the newest). With ``owner_id``, only that user's
    transcripts exist, and ``ref`` must be the full id."""
    transcript_id = ref if owner_id is not None else await repository.resolve_id(session, ref)
    row = await repository.get_version(session, transcript_id, version)
    if row is None or (owner_id is not None and row[1].owner_id != owner_id):
        if owner_id is not None and version is None:
            raise errors.NotFoundError(TRANSCRIPT_NOT_FOUND.format(ref=transcript_id))
        raise errors.NotFoundError(VERSION_NOT_FOUND.format(ref=transcript_id, version=version))
    document = TranscriptDocument.model_validate(row[2].document)
    summary = _summary(row)
    return TranscriptDetail.model_validate({**summary, "text": row[2].text, "document": document})


async def list_page(
    session: AsyncSession, owner_id: str, media_id: str | None, page: PageRequest
) -> tuple[list[TranscriptSummary], str | None]:
    """The owner's transcripts, newest first, each with its newest version."""
    rows, cursor = paged(
        await repository.list_page(session, owner_id, media_id, page),
        page,
        lambda r: (r[0].created_at, r[0].id),
    )
    return [TranscriptSummary.model_validate(_summary(r)) for r in rows], cursor


async def list_versions(
    session: AsyncSession, transcript_id: str, owner_id: str
) -> list[VersionSummary]:
    """Every stored version (pipeline stage) of the owner's transcript, oldest first."""
    await get_transcript(session, transcript_id, owner_id=owner_id)
    return [
        VersionSummary.model_validate(v) for v in await repository.versions(session, transcript_id)
    ]
