from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, defer

from trax.db import insert_once, new_id, resolve_id_prefix, utcnow
from trax.media.models import Media
from trax.pagination import PageRequest, keyset
from trax.transcripts.models import Transcript, TranscriptVersion

Row = tuple[Transcript, Media, TranscriptVersion]
#: Lists show summaries: the (large) document JSON is not loaded, and touching it raises.
_NO_DOCUMENT = defer(TranscriptVersion.document, raiseload=True)
#: The index over a list line's columns of a version (see the model).
SUMMARY_INDEX = "ix_transcript_versions_summary"


class SummaryRow(NamedTuple):
    """The columns a list line needs: no document, no provenance and no text (its stored
    preview), so a page of multi-hour transcripts reads as little as a page of short ones."""

    id: str
    created_at: datetime
    media_id: str
    filename: str
    version: int
    stage: str
    model: str
    language: str
    duration: float
    preview: str | None


@cache
def _latest_summaries() -> sa.Select[*tuple[Any, ...]]:
    """Built once: constructing this statement (an aliased table, a correlated subquery) took
    longer than running it. Statements are immutable; ``.where()`` and friends copy."""
    other = aliased(TranscriptVersion)
    latest = (
        sa.select(sa.func.max(other.version))
        .where(other.transcript_id == Transcript.id)
        .correlate(Transcript)
        .scalar_subquery()
    )
    v = TranscriptVersion
    return (
        sa.select(
            Transcript.id,
            Transcript.created_at,
            Media.id.label("media_id"),
            Media.filename,
            v.version,
            v.stage,
            v.model,
            v.language,
            v.duration,
            v.preview,
        )
        .join(Media, Media.id == Transcript.media_id)
        .join(v, v.transcript_id == Transcript.id)
        # `version + 0` is not an index term, so SQLite looks the version up by transcript in the
        # covering summary index instead of the (transcript_id, version) unique index, and never
        # reads the row (reaching `preview` there walks the document's overflow pages).
        .where(v.version + 0 == latest)
    )


def _summaries(rows: Sequence[sa.Row[Any]]) -> list[SummaryRow]:
    return [SummaryRow._make(row) for row in rows]


async def find_by_recipe(
    session: AsyncSession, media_id: str, recipe_key: str
) -> Transcript | None:
    result = await session.execute(
        sa.select(Transcript).where(
            Transcript.media_id == media_id, Transcript.recipe_key == recipe_key
        )
    )
    return result.scalar_one_or_none()


async def add_once(session: AsyncSession, media_id: str, recipe_key: str) -> Transcript | None:
    """Insert the transcript row for (media, recipe) unless one exists (also when another
    transaction inserts it at the same moment): None when inserted, else the existing one."""
    values = {"id": new_id(), "created_at": utcnow(), "media_id": media_id,
              "recipe_key": recipe_key}  # fmt: skip
    if await insert_once(session, Transcript, values, ["media_id", "recipe_key"]):
        return None
    return await find_by_recipe(session, media_id, recipe_key)


async def add_version(
    session: AsyncSession, transcript: Transcript, version: TranscriptVersion
) -> None:
    version.transcript_id = transcript.id
    session.add(version)
    await session.flush()


async def list_latest(session: AsyncSession, limit: int) -> list[SummaryRow]:
    """The newest transcripts, each with its newest version."""
    stmt = (
        _latest_summaries()
        .order_by(Transcript.created_at.desc(), Transcript.id.desc())
        .limit(limit)
    )
    return _summaries((await session.execute(stmt)).all())


async def resolve_id(session: AsyncSession, ref: str) -> str:
    return await resolve_id_prefix(session, Transcript.id, ref, "transcript")


async def get_version(session: AsyncSession, transcript_id: str, version: int | None) -> Row | None:
    stmt = (
        sa.select(Transcript, Media, TranscriptVersion)
        .join(Media, Media.id == Transcript.media_id)
        .join(TranscriptVersion, TranscriptVersion.transcript_id == Transcript.id)
        .where(Transcript.id == transcript_id)
        .order_by(TranscriptVersion.version.desc())
        .limit(1)
    )
    if version is not None:
        stmt = stmt.where(TranscriptVersion.version == version)
    row = (await session.execute(stmt)).first()
    return (row[0], row[1], row[2]) if row else None


async def list_page(
    session: AsyncSession,
    owner_id: str,
    media_id: str | None,
    page: PageRequest,
    *,
    language: str | None = None,
    stage: str | None = None,
) -> list[SummaryRow]:
    """The owner's transcripts with their newest version (filtered on that version's language
    and stage when given)."""
    stmt = _latest_summaries().where(Media.owner_id == owner_id)
    if media_id is not None:
        stmt = stmt.where(Media.id == media_id)
    if language is not None:
        stmt = stmt.where(TranscriptVersion.language == language)
    if stage is not None:
        stmt = stmt.where(TranscriptVersion.stage == stage)
    stmt = keyset(stmt, Transcript.created_at, Transcript.id, page)
    return _summaries((await session.execute(stmt)).all())


async def versions(session: AsyncSession, transcript_id: str) -> list[TranscriptVersion]:
    stmt = (
        sa.select(TranscriptVersion)
        .options(_NO_DOCUMENT)
        .where(TranscriptVersion.transcript_id == transcript_id)
        .order_by(TranscriptVersion.version)
    )
    return list((await session.scalars(stmt)).all())


async def find_stage(
    session: AsyncSession, transcript_id: str, parent_version: int, recipe_key: str
) -> TranscriptVersion | None:
    stmt = sa.select(TranscriptVersion).where(
        TranscriptVersion.transcript_id == transcript_id,
        TranscriptVersion.parent_version == parent_version,
        TranscriptVersion.recipe_key == recipe_key,
    )
    return (await session.scalars(stmt.limit(1))).first()


async def next_version(session: AsyncSession, transcript_id: str) -> int:
    stmt = sa.select(sa.func.max(TranscriptVersion.version)).where(
        TranscriptVersion.transcript_id == transcript_id
    )
    return int((await session.scalar(stmt)) or 0) + 1


async def add_version_once(session: AsyncSession, row: TranscriptVersion) -> bool:
    """Insert ``row`` unless its version number was taken meanwhile: False then."""
    values = {c.key: getattr(row, c.key) for c in sa.inspect(TranscriptVersion).column_attrs}
    values["id"] = values["id"] or new_id()
    values["created_at"] = values["created_at"] or utcnow()
    if not await insert_once(session, TranscriptVersion, values, ["transcript_id", "version"]):
        return False
    row.id, row.created_at = values["id"], values["created_at"]
    return True


async def llm_spent(session: AsyncSession, transcript_id: str) -> float:
    stmt = sa.select(sa.func.coalesce(sa.func.sum(TranscriptVersion.llm_usd), 0.0)).where(
        TranscriptVersion.transcript_id == transcript_id
    )
    return float((await session.execute(stmt)).scalar_one() or 0.0)
