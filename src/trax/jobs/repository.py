from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from trax.db import insert_once, resolve_id_prefix
from trax.jobs.models import Job, JobStatus
from trax.pagination import PageRequest, keyset


async def get(session: AsyncSession, job_id: str) -> Job | None:
    return await session.get(Job, job_id)


async def resolve_id(session: AsyncSession, ref: str) -> str:
    return await resolve_id_prefix(session, Job.id, ref, "job")


async def get_many(session: AsyncSession, job_ids: Sequence[str]) -> list[Job]:
    result = await session.execute(sa.select(Job).where(Job.id.in_(job_ids)))
    found = {j.id: j for j in result.scalars()}
    return [found[i] for i in job_ids if i in found]


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


async def with_status(
    session: AsyncSession, statuses: Sequence[JobStatus], ids: Sequence[str] | None = None
) -> list[Job]:
    stmt = sa.select(Job).where(Job.status.in_(statuses)).order_by(Job.created_at, Job.id)
    if ids is not None:
        stmt = stmt.where(Job.id.in_(ids))
    return list((await session.execute(stmt)).scalars())


_UNFINISHED = [JobStatus.QUEUED, JobStatus.RUNNING]


async def insert_unfinished_once(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Insert a job unless an unfinished one has the same ``dedupe_key``; True if inserted."""
    where = sa.text("status IN ('queued', 'running')")
    return await insert_once(session, Job, values, ["dedupe_key"], where)


async def unfinished_by_key(session: AsyncSession, dedupe_key: str) -> Job | None:
    stmt = sa.select(Job).where(Job.dedupe_key == dedupe_key, Job.status.in_(_UNFINISHED))
    return (await session.scalars(stmt)).first()


async def unfinished_on_media(session: AsyncSession, media_id: str) -> list[Job]:
    stmt = sa.select(Job).where(Job.media_id == media_id, Job.status.in_(_UNFINISHED))
    return list((await session.scalars(stmt)).all())


async def claim(
    session: AsyncSession, job_id: str, owner: str, now: datetime, lease_until: datetime
) -> bool:
    """Atomically take a queued job, or a running one whose lease expired."""
    stmt = (
        sa.update(Job)
        .where(
            Job.id == job_id,
            sa.or_(
                Job.status == JobStatus.QUEUED,
                sa.and_(Job.status == JobStatus.RUNNING, Job.lease_expires_at < now),
            ),
        )
        .values(
            status=JobStatus.RUNNING,
            attempts=Job.attempts + 1,
            lease_owner=owner,
            lease_expires_at=lease_until,
            heartbeat_at=now,
            started_at=now,
            progress=0.0,
            stage="starting",
        )
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


async def requeue_lost(
    session: AsyncSession, job_id: str, owner: str | None, lease_expires_at: datetime | None
) -> bool:
    """Put a running job whose lease was lost back to queued, only if it still has the lease
    the caller saw: sweeps in several processes (``trax serve --workers``) may find the same
    job, and one of them may already have re-queued it and another process claimed it again."""
    stmt = (
        sa.update(Job)
        .where(
            Job.id == job_id,
            Job.status == JobStatus.RUNNING,
            Job.lease_owner.is_not_distinct_from(owner),
            Job.lease_expires_at.is_not_distinct_from(lease_expires_at),
        )
        .values(status=JobStatus.QUEUED, stage="recovered", lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


async def heartbeat(
    session: AsyncSession,
    job_id: str,
    owner: str,
    values: dict[str, object],
) -> bool:
    """Extend the lease of a job this owner still runs; False if it was lost or cancelled."""
    stmt = (
        sa.update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.status == JobStatus.RUNNING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


async def list_page(
    session: AsyncSession, owner_id: str, status: JobStatus | None, page: PageRequest
) -> list[Job]:
    stmt = sa.select(Job).where(Job.owner_id == owner_id)
    if status is not None:
        stmt = stmt.where(Job.status == status)
    return list((await session.scalars(keyset(stmt, Job.created_at, Job.id, page))).all())


async def changed_since(
    session: AsyncSession, owner_id: str | None, since: datetime, kinds: Sequence[str]
) -> list[Job]:
    stmt = (
        sa.select(Job)
        .where(Job.updated_at >= since, Job.kind.in_(kinds))
        .order_by(Job.updated_at, Job.id)
    )
    if owner_id is not None:
        stmt = stmt.where(Job.owner_id == owner_id)
    return list((await session.scalars(stmt)).all())
