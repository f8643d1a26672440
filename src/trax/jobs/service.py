"""Job state transitions. The row is the truth; every change goes through here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.db import new_id, utcnow
from trax.jobs import repository
from trax.jobs.models import Job, JobStatus
from trax.jobs.schemas import JobView

JOB_NOT_FOUND = "no job with id {job_id!r}"
TRANSCRIBE = "transcribe"


async def create_batch(
    session: AsyncSession, kind: str, sources: Sequence[str], options: dict[str, Any]
) -> list[Job]:
    """One queued job per source, sharing a batch id."""
    batch_id = new_id()
    jobs = [Job(kind=kind, source=s, options=options, batch_id=batch_id) for s in sources]
    await repository.add_all(session, jobs)
    return jobs


async def get(session: AsyncSession, job_id: str) -> Job:
    job = await repository.get(session, job_id)
    if job is None:
        raise errors.NotFoundError(JOB_NOT_FOUND.format(job_id=job_id))
    return job


async def start(session: AsyncSession, job_id: str, owner: str) -> Job:
    job = await get(session, job_id)
    job.status = JobStatus.RUNNING
    job.attempts += 1
    job.lease_owner = owner
    job.started_at = job.heartbeat_at = utcnow()
    job.error_kind = job.error_message = None
    return job


async def progress(session: AsyncSession, job_id: str, fraction: float, stage: str) -> None:
    job = await get(session, job_id)
    job.progress, job.stage, job.heartbeat_at = fraction, stage, utcnow()


async def succeed(
    session: AsyncSession, job_id: str, media_id: str, transcript_id: str, cached: bool
) -> Job:
    job = await get(session, job_id)
    job.status = JobStatus.SUCCEEDED
    job.media_id, job.transcript_id = media_id, transcript_id
    job.progress, job.stage = 1.0, "cached" if cached else "done"
    job.finished_at = utcnow()
    job.lease_owner = None
    return job


async def fail(session: AsyncSession, job_id: str, kind: str, message: str) -> Job:
    job = await get(session, job_id)
    job.status = JobStatus.FAILED
    job.error_kind, job.error_message = kind, message
    job.finished_at = utcnow()
    job.lease_owner = None
    return job


async def list_jobs(
    session: AsyncSession, status: JobStatus | None = None, limit: int = 100
) -> list[JobView]:
    return [JobView.model_validate(j) for j in await repository.list_jobs(session, status, limit)]
