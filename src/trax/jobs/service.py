"""Job state transitions. The row is the truth; every change goes through here.

``queued → running → succeeded | failed | cancelled``. A worker takes a job with an atomic
conditional update (:func:`claim`) and keeps it with a lease it renews (:func:`heartbeat`); a job
whose lease expired, or whose owner process is gone, can be taken again.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Container, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.db import new_id, utcnow
from trax.jobs import repository
from trax.jobs.models import Job, JobStatus
from trax.jobs.schemas import JobView
from trax.media.models import Media
from trax.pagination import PageRequest, paged

JOB_NOT_FOUND = "no job with id {job_id!r}"
CANNOT_CANCEL = "job {job_id} has already {status}"
CANNOT_RETRY = "job {job_id} is {status}; only failed or cancelled jobs can be retried"
CANCELLED_BY_USER = "cancelled by user"
LEASE_LOST = "job {job_id} is no longer ours (now {status})"
TRANSCRIBE = "transcribe"
WEBHOOK = "webhook"


class JobRef(NamedTuple):
    """What a broker message needs: the job's kind (which actor) and its id."""

    kind: str
    id: str

    @classmethod
    def of(cls, job: Job) -> JobRef:
        return cls(job.kind, job.id)


class Delivery(Protocol):
    """What the job services need from a broker (:class:`trax.queue.Queue`)."""

    def enqueue(self, jobs: Sequence[JobRef]) -> None: ...

    def held_job_ids(self) -> set[str]: ...


def this_owner() -> str:
    """Who holds a lease: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer exists."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


async def submit(
    session: AsyncSession, kind: str, sources: Sequence[str], options: dict[str, Any]
) -> list[Job]:
    """One job per source, in order. An unfinished job for the same source and options is
    reused, so running a killed batch again resumes it instead of duplicating it."""
    existing: dict[str, Job] = {}
    for job in await repository.unfinished_for(session, kind, sources):
        if job.options == options:
            existing.setdefault(job.source, job)
    batch_id = new_id()
    fresh = [
        Job(kind=kind, source=s, options=options, batch_id=batch_id)
        for s in dict.fromkeys(sources)
        if s not in existing
    ]
    await repository.add_all(session, fresh)
    by_source = {**existing, **{j.source: j for j in fresh}}
    return [by_source[s] for s in sources]


async def create(
    session: AsyncSession,
    kind: str,
    source: str,
    options: dict[str, Any],
    owner_id: str | None = None,
    media_id: str | None = None,
) -> Job:
    """A new queued job; the caller enqueues it after its unit of work commits."""
    job = Job(kind=kind, source=source, options=options, owner_id=owner_id, media_id=media_id)
    await repository.add_all(session, [job])
    return job


async def get(session: AsyncSession, job_id: str, owner_id: str | None = None) -> Job:
    """The job; with ``owner_id``, only if that user owns it (another's job is not found)."""
    job = await repository.get(session, job_id)
    if job is None or (owner_id is not None and job.owner_id != owner_id):
        raise errors.NotFoundError(JOB_NOT_FOUND.format(job_id=job_id))
    return job


async def submit_for_media(
    session: AsyncSession, kind: str, media: Media, options: dict[str, Any], owner_id: str
) -> Job:
    """A job on stored media; an unfinished one with the same options is reused."""
    for job in await repository.unfinished_for_media(session, kind, media.id, owner_id):
        if job.options == options:
            return job
    return await create(session, kind, media.filename, options, owner_id, media.id)


async def list_page(
    session: AsyncSession, owner_id: str, status: JobStatus | None, page: PageRequest
) -> tuple[list[JobView], str | None]:
    rows, cursor = paged(await repository.list_page(session, owner_id, status, page), page)
    return [JobView.model_validate(j) for j in rows], cursor


async def changed_since(
    session: AsyncSession,
    owner_id: str | None,
    since: datetime,
    kinds: Sequence[str] = (TRANSCRIBE,),
) -> list[Job]:
    """The owner's jobs (every owner's with None) updated after ``since``, oldest change first
    (live notifications)."""
    return await repository.changed_since(session, owner_id, since, kinds)


async def resolve_id(session: AsyncSession, ref: str) -> str:
    """The full id for ``ref``, which may be any unique prefix of it."""
    return await repository.resolve_id(session, ref)


async def get_many(session: AsyncSession, job_ids: Sequence[str]) -> list[Job]:
    return await repository.get_many(session, job_ids)


async def mark_enqueued(session: AsyncSession, jobs: Sequence[Job]) -> None:
    now = utcnow()
    for job in jobs:
        job.enqueued_at = now


async def claim(session: AsyncSession, job_id: str, owner: str, lease_seconds: float) -> bool:
    """Take the job if nobody holds it; False when it is taken, finished or cancelled."""
    now = utcnow()
    return await repository.claim(
        session, job_id, owner, now, now + timedelta(seconds=lease_seconds)
    )


async def heartbeat(
    session: AsyncSession,
    job_id: str,
    owner: str,
    lease_seconds: float,
    progress: float | None = None,
    stage: str | None = None,
) -> bool:
    """Renew the lease (and record progress). False: the job was cancelled or taken over."""
    now = utcnow()
    values: dict[str, object] = {
        "heartbeat_at": now,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }
    if progress is not None:
        values["progress"] = progress
    if stage is not None:
        values["stage"] = stage
    return await repository.heartbeat(session, job_id, owner, values)


def _finish(job: Job, status: JobStatus) -> None:
    job.status = status
    job.finished_at = utcnow()
    job.lease_owner = None
    job.lease_expires_at = None


async def _owned(session: AsyncSession, job_id: str, owner: str) -> Job:
    """The job, if ``owner`` still runs it; otherwise it was cancelled or taken over."""
    job = await get(session, job_id)
    await session.refresh(job)
    if job.status is not JobStatus.RUNNING or job.lease_owner != owner:
        raise errors.JobAborted(LEASE_LOST.format(job_id=job_id, status=job.status.value))
    return job


async def succeed(
    session: AsyncSession,
    job_id: str,
    owner: str,
    media_id: str,
    transcript_id: str,
    cached: bool,
) -> Job:
    job = await _owned(session, job_id, owner)
    _finish(job, JobStatus.SUCCEEDED)
    job.media_id, job.transcript_id = media_id, transcript_id
    job.progress, job.stage = 1.0, "cached" if cached else "done"
    job.error_kind = job.error_message = None
    return job


async def complete(session: AsyncSession, job_id: str, owner: str, stage: str = "done") -> Job:
    """Finish a job that produces no transcript (a webhook delivery)."""
    job = await _owned(session, job_id, owner)
    _finish(job, JobStatus.SUCCEEDED)
    job.progress, job.stage = 1.0, stage
    job.error_kind = job.error_message = None
    return job


async def fail(session: AsyncSession, job_id: str, owner: str, kind: str, message: str) -> Job:
    job = await _owned(session, job_id, owner)
    _finish(job, JobStatus.FAILED)
    job.error_kind, job.error_message = kind, message
    return job


async def requeue(session: AsyncSession, job_id: str, owner: str, kind: str, message: str) -> Job:
    """Give a job back after a transient failure; the error stays visible until it succeeds."""
    job = await _owned(session, job_id, owner)
    job.status = JobStatus.QUEUED
    job.error_kind, job.error_message = kind, message
    job.lease_owner = job.lease_expires_at = None
    job.stage = "retrying"
    return job


async def cancel(session: AsyncSession, job_id: str, owner_id: str | None = None) -> Job:
    """Cancel a queued or running job (a running one stops at its next heartbeat)."""
    job = await get(session, job_id, owner_id)
    if job.status.finished:
        raise errors.ConflictError(CANNOT_CANCEL.format(job_id=job_id, status=job.status.value))
    _finish(job, JobStatus.CANCELLED)
    job.error_kind, job.error_message = "cancelled", CANCELLED_BY_USER
    return job


async def retry(
    session: AsyncSession, job_ids: Sequence[str] | None = None, owner_id: str | None = None
) -> list[Job]:
    """Queue failed or cancelled jobs again (``None``: every failed job) with fresh attempts."""
    if job_ids is None:
        jobs = await repository.with_status(session, [JobStatus.FAILED])
    else:
        jobs = [await get(session, i, owner_id) for i in job_ids]
    for job in jobs:
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            raise errors.ConflictError(CANNOT_RETRY.format(job_id=job.id, status=job.status.value))
        job.status, job.attempts, job.progress, job.stage = JobStatus.QUEUED, 0, 0.0, None
        job.error_kind = job.error_message = None
        job.finished_at = None
    return jobs


async def recoverable(
    session: AsyncSession,
    held: Container[str],
    grace_seconds: float,
    only: Sequence[str] | None = None,
) -> list[Job]:
    """Jobs to enqueue (again): queued ones no broker holds (after a grace period for
    enqueue-after-commit), and running ones whose lease expired or whose owner is gone, which
    are put back to queued here. ``only`` limits the search to those job ids."""
    now = utcnow()
    grace = now - timedelta(seconds=grace_seconds)
    lost: list[Job] = []
    unfinished = [JobStatus.QUEUED, JobStatus.RUNNING]
    for job in await repository.with_status(session, unfinished, only):
        if job.status is JobStatus.QUEUED:
            if job.id not in held and (job.enqueued_at is None or job.enqueued_at < grace):
                lost.append(job)
        elif _lease_lost(job, now):
            job.status, job.stage = JobStatus.QUEUED, "recovered"
            job.lease_owner = job.lease_expires_at = None
            lost.append(job)
    return lost


def _lease_lost(job: Job, now: datetime) -> bool:
    expired = job.lease_expires_at is None or job.lease_expires_at < now
    return expired or owner_is_gone(job.lease_owner)


async def list_jobs(
    session: AsyncSession, status: JobStatus | None = None, limit: int = 100
) -> list[JobView]:
    return [JobView.model_validate(j) for j in await repository.list_jobs(session, status, limit)]
