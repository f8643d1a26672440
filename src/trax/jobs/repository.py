from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.jobs.models import Job, JobStatus


async def get(session: AsyncSession, job_id: str) -> Job | None:
    return await session.get(Job, job_id)


async def add_all(session: AsyncSession, jobs: Sequence[Job]) -> None:
    session.add_all(jobs)
    await session.flush()


async def list_jobs(
    session: AsyncSession, status: JobStatus | None = None, limit: int = 100
) -> Sequence[Job]:
    stmt = sa.select(Job).order_by(Job.created_at.desc(), Job.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    return list((await session.execute(stmt)).scalars())
