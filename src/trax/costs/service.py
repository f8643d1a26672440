"""Cost rules: every version's compute and LLM money, totalled for a report or a transcript."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trax.costs import repository
from trax.costs.schemas import CostLine, CostReport


def _line(row: tuple[Any, ...]) -> CostLine:
    key, versions, cpu, compute, llm, prompt, completion = row
    return CostLine(
        key=None if key is None else str(key),
        versions=int(versions),
        cpu_seconds=round(float(cpu), 3),
        compute_usd=round(float(compute), 8),
        llm_usd=round(float(llm), 8),
        prompt_tokens=int(prompt),
        completion_tokens=int(completion),
        total_usd=round(float(compute) + float(llm), 8),
    )


async def report(
    session: AsyncSession,
    cpu_hour_usd: float,
    owner_id: str | None = None,
    since: datetime | None = None,
) -> CostReport:
    """What the versions made since ``since`` cost, in all and per model, stage and project.
    With ``owner_id``, only that user's media count. Versions made before compute cost was
    recorded are priced at ``cpu_hour_usd``. A ``since`` without a time zone is UTC."""

    async def lines(group: str | None) -> list[CostLine]:
        rows = await repository.totals(
            session, cpu_hour_usd, group=group, owner_id=owner_id, since=since
        )
        return [_line(r) for r in rows]

    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a date or time without a zone is UTC
    (total,) = await lines(None)
    return CostReport(
        since=since,
        cpu_hour_usd=cpu_hour_usd,
        total=total,
        by_model=await lines("model"),
        by_stage=await lines("stage"),
        by_project=await lines("project"),
    )


async def transcript_total(
    session: AsyncSession, transcript_id: str, cpu_hour_usd: float
) -> CostLine:
    """What all versions of one transcript cost."""
    (row,) = await repository.totals(session, cpu_hour_usd, transcript_id=transcript_id)
    return _line(row)
