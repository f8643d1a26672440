"""Transcript rules: one transcript per media and recipe, versions per stage, lookup by id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.media.models import Media
from trax.pagination import PageRequest, paged
from trax.search import service as search
from trax.transcripts import repository
from trax.transcripts.diff import VersionDiff, diff
from trax.transcripts.models import Transcript, TranscriptVersion
from trax.transcripts.schemas import TranscriptDetail, TranscriptSummary, VersionSummary
from trax.transcripts.stages import StageRequest

VERSION_NOT_FOUND = "transcript {ref} has no version {version}"
TRANSCRIPT_NOT_FOUND = "no transcript with id {ref!r}"
SEARCH_ELSEWHERE = "transcripts are searched with GET /api/v1/search?q=… (or `trax search`)"
VERSION_RACE = "transcript {ref}: other stages kept taking the next version number; try again"
_PREVIEW_CHARS = 80
#: Attempts at taking the next version number while other stages take it too.
_VERSION_RACES = 5


def recipe_key(options: TranscribeOptions) -> str:
    """What, besides the media bytes, decides a transcript's content."""
    canonical = json.dumps(options.as_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def find_cached(
    session: AsyncSession, media_id: str, options: TranscribeOptions
) -> Transcript | None:
    return await repository.find_by_recipe(session, media_id, recipe_key(options))


@dataclass(frozen=True)
class Cost:
    """What making a version took: wall and CPU seconds, and money: compute (CPU seconds at the
    configured price per CPU-hour) and LLM tokens (stages that call a chat API)."""

    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    compute_usd: float | None = None
    llm_usd: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    @property
    def usd(self) -> float | None:
        """Compute and LLM together (None when neither is known)."""
        parts = [p for p in (self.compute_usd, self.llm_usd) if p is not None]
        return round(sum(parts), 8) if parts else None


def _version_row(
    number: int, document: TranscriptDocument, recipe: str, cost: Cost
) -> TranscriptVersion:
    return TranscriptVersion(
        version=number,
        stage=document.provenance.stage,
        model=document.provenance.model,
        language=document.language,
        duration=document.duration,
        text=document.text,
        preview=_preview(document.text),
        document=document.model_dump(mode="json"),
        parent_version=document.provenance.parent_version,
        recipe_key=recipe,
        provenance=document.provenance.model_dump(mode="json"),
        wall_seconds=_round(cost.wall_seconds),
        cpu_seconds=_round(cost.cpu_seconds),
        cost_usd=cost.usd,
        compute_usd=_money(cost.compute_usd),
        llm_usd=_money(cost.llm_usd),
        prompt_tokens=cost.prompt_tokens,
        completion_tokens=cost.completion_tokens,
    )


def _money(usd: float | None) -> float | None:
    return None if usd is None else round(usd, 8)


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


async def save_basic(
    session: AsyncSession,
    media: Media,
    options: TranscribeOptions,
    document: TranscriptDocument,
    cost: Cost = Cost(),
) -> tuple[Transcript, bool]:
    """Store ``document`` as version 1 (stage ``basic``) of a new transcript; True when stored.
    When another job stored the same media and recipe meanwhile (two identical files in one
    batch, a redelivered job), that transcript is returned and this document is dropped: it has
    the same words."""
    key = recipe_key(options)
    existing = await repository.add_once(session, media.id, key)
    if existing is not None:
        return existing, False
    transcript = await repository.find_by_recipe(session, media.id, key)
    assert transcript is not None
    await repository.add_version(session, transcript, _version_row(1, document, key, cost))
    await search.index_version(session, transcript.id, 1, document)
    return transcript, True


async def find_stage(
    session: AsyncSession, transcript_id: str, parent_version: int, request: StageRequest
) -> TranscriptVersion | None:
    """The stored result of ``request`` on ``parent_version``, if any: reused, never redone."""
    return await repository.find_stage(session, transcript_id, parent_version, request.recipe_key)


async def save_stage(
    session: AsyncSession,
    transcript_id: str,
    parent_version: int,
    request: StageRequest,
    document: TranscriptDocument,
    cost: Cost = Cost(),
) -> tuple[TranscriptVersion, bool]:
    """Store a stage's output as the next version; True when stored, False when the same
    parent and recipe were stored meanwhile (that version is returned)."""
    stamped = document.model_copy(
        update={
            "provenance": document.provenance.model_copy(update={"parent_version": parent_version})
        }
    )
    for _ in range(_VERSION_RACES):
        existing = await find_stage(session, transcript_id, parent_version, request)
        if existing is not None:
            return existing, False
        number = await repository.next_version(session, transcript_id)
        row = _version_row(number, stamped, request.recipe_key, cost)
        row.transcript_id = transcript_id
        if await repository.add_version_once(session, row):
            await search.index_version(session, transcript_id, number, stamped)
            return row, True
    raise errors.ConflictError(VERSION_RACE.format(ref=transcript_id))


async def llm_spent(session: AsyncSession, transcript_id: str) -> float:
    """What the transcript's versions cost in LLM tokens so far (USD)."""
    return await repository.llm_spent(session, transcript_id)


def _preview(text: str) -> str:
    return text if len(text) <= _PREVIEW_CHARS else text[: _PREVIEW_CHARS - 1] + "…"


def _summary(row: repository.Row) -> dict[str, object]:
    t, m, v = row
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
        "preview": _preview(v.text),
    }


def _list_line(row: repository.SummaryRow) -> TranscriptSummary:
    return TranscriptSummary.model_validate({**row._asdict(), "preview": row.preview or ""})


async def list_transcripts(session: AsyncSession, limit: int = 100) -> list[TranscriptSummary]:
    """Stored transcripts, newest first, each with its newest version."""
    rows = await repository.list_latest(session, limit)
    return [_list_line(r) for r in rows]


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
    session: AsyncSession,
    owner_id: str,
    media_id: str | None,
    page: PageRequest,
    *,
    language: str | None = None,
    stage: str | None = None,
) -> tuple[list[TranscriptSummary], str | None]:
    """The owner's transcripts, newest first, each with its newest version (whose language
    and stage may be filtered on)."""
    found = await repository.list_page(
        session, owner_id, media_id, page, language=language, stage=stage
    )
    rows, cursor = paged(found, page)
    return [_list_line(r) for r in rows], cursor


def _version_summary(row: TranscriptVersion) -> VersionSummary:
    provenance = row.provenance or {}
    return VersionSummary.model_validate(
        {
            "version": row.version,
            "stage": row.stage,
            "model": row.model,
            "language": row.language,
            "duration": row.duration,
            "created_at": row.created_at,
            "parent_version": row.parent_version,
            "options": provenance.get("options", {}),
            "engine": provenance.get("engine", {}),
            "wall_seconds": row.wall_seconds,
            "cpu_seconds": row.cpu_seconds,
            "cost_usd": row.cost_usd,
            "compute_usd": row.compute_usd,
            "llm_usd": row.llm_usd,
            "prompt_tokens": row.prompt_tokens,
            "completion_tokens": row.completion_tokens,
            "words": len(row.text.split()),
        }
    )


async def list_versions(
    session: AsyncSession, transcript_id: str, owner_id: str | None = None
) -> list[VersionSummary]:
    """Every stored version (pipeline stage) of a transcript, oldest first. With ``owner_id``,
    only that user's transcript exists; without, ``transcript_id`` may be a unique prefix."""
    detail = await get_transcript(session, transcript_id, owner_id=owner_id)
    return [_version_summary(v) for v in await repository.versions(session, detail.id)]


async def version_summary(
    session: AsyncSession, transcript_id: str, version: int
) -> VersionSummary:
    """One version's summary (the provenance, not the document)."""
    for row in await repository.versions(session, transcript_id):
        if row.version == version:
            return _version_summary(row)
    raise errors.NotFoundError(VERSION_NOT_FOUND.format(ref=transcript_id, version=version))


async def diff_versions(
    session: AsyncSession, ref: str, a: int, b: int, owner_id: str | None = None
) -> VersionDiff:
    """Word-level changes from version ``a`` to version ``b`` of a transcript."""
    old = await get_transcript(session, ref, a, owner_id)
    new = await get_transcript(session, old.id, b, owner_id)
    return diff(old.id, a, old.document, b, new.document)
