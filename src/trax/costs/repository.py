"""Cost queries over ``transcript_versions`` joined to their media and projects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.media.models import Media
from trax.projects.models import Project
from trax.transcripts.models import Transcript, TranscriptVersion

V = TranscriptVersion
#: Group keys a report can total by.
GROUPS: dict[str, Any] = {"model": V.model, "stage": V.stage, "project": Project.name}


def _sums(cpu_hour_usd: float) -> list[Any]:
    compute = sa.func.coalesce(V.compute_usd, sa.func.coalesce(V.cpu_seconds, 0.0) * cpu_hour_usd
                               / 3600.0)  # fmt: skip
    return [
        sa.func.count(V.id),
        sa.func.coalesce(sa.func.sum(V.cpu_seconds), 0.0),
        sa.func.coalesce(sa.func.sum(compute), 0.0),
        sa.func.coalesce(sa.func.sum(V.llm_usd), 0.0),
        sa.func.coalesce(sa.func.sum(V.prompt_tokens), 0),
        sa.func.coalesce(sa.func.sum(V.completion_tokens), 0),
    ]


def _filtered(stmt: Any, owner_id: str | None, since: datetime | None, transcript_id: str | None
              ) -> Any:  # fmt: skip
    stmt = (
        stmt.select_from(V)
        .join(Transcript, Transcript.id == V.transcript_id)
        .join(Media, Media.id == Transcript.media_id)
        .outerjoin(Project, Project.id == Media.project_id)
    )
    if owner_id is not None:
        stmt = stmt.where(Media.owner_id == owner_id)
    if since is not None:
        stmt = stmt.where(V.created_at >= since)
    if transcript_id is not None:
        stmt = stmt.where(V.transcript_id == transcript_id)
    return stmt


async def totals(
    session: AsyncSession,
    cpu_hour_usd: float,
    *,
    group: str | None = None,
    owner_id: str | None = None,
    since: datetime | None = None,
    transcript_id: str | None = None,
) -> list[tuple[Any, ...]]:
    """Rows of (key, versions, cpu seconds, compute, llm, prompt tokens, completion tokens);
    one row with key None when ``group`` is None."""
    key = GROUPS[group] if group is not None else sa.literal(None)
    stmt = _filtered(sa.select(key, *_sums(cpu_hour_usd)), owner_id, since, transcript_id)
    if group is not None:
        stmt = stmt.group_by(key).order_by(key)
    return [tuple(r) for r in (await session.execute(stmt)).all()]
