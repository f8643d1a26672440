"""Job state transitions. The row is the truth; every change goes through here.

``queued → running → succeeded | failed | cancelled``. A worker takes a job with an atomic
conditional update (:func:`claim`) and keeps it with a lease it renews (:func:`heartbeat`); a job
whose lease expired, or whose owner process is gone, can be taken again.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Container, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.db import new_id, utcnow
from trax.jobs import repository
from trax.jobs.models import Job, JobStatus, SourceKind
from trax.jobs.schemas import JobView
from trax.media.models import Media
from trax.pagination import PageRequest, paged
from trax.processes import process_is_gone
from trax.unit_of_work import JobRef

__all__ = ["JobRef"]

JOB_NOT_FOUND = "no job with id {job_id!r}"
CANNOT_CANCEL = "job {job_id} has already {status}"
CANNOT_RETRY = "job {job_id} is {status}; only failed or cancelled jobs can be retried"
ALREADY_QUEUED = "job {job_id} cannot be retried: the identical job {other} is already {status}"
MEDIA_GONE = "job {job_id} cannot be retried: its media was deleted"
CANCELLED_BY_USER = "cancelled by user"
LEASE_LOST = "job {job_id} is no longer ours (now {status})"
TRANSCRIBE = "transcribe"
#: Run pipeline stages on a stored transcript version.
REFINE = "refine"
#: Burn a transcript version's captions into its media.
RENDER = "render"
WEBHOOK = "webhook"


def this_owner() -> str:
    """Who holds a lease: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(owner: str | None) -> bool:
    """True when ``owner`` was a process on this host that no longer exists."""
    host, _, pid = (owner or "").rpartition(":")
    return process_is_gone(host, pid)


def dedupe_key(
    kind: str, source_kind: SourceKind, source: str, owner_id: str | None, options: dict[str, Any]
) -> str:
    """Identical requests (same kind, input, owner and options) share one unfinished job."""
    canonical = json.dumps(
        [kind, source_kind.value, source, owner_id, options], sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _create_once(
    session: AsyncSession,
    kind: str,
    source_kind: SourceKind,
    source: str,
    options: dict[str, Any],
    *,
    owner_id: str | None = None,
    media_id: str | None = None,
    batch_id: str | None = None,
    transcript_id: str | None = None,
) -> tuple[Job, bool]:
    """The unfinished job for this request: a new one (True), or the one an earlier or a
    concurrent identical request created (False)."""
    ident = media_id if source_kind is SourceKind.MEDIA and media_id else source
    key = dedupe_key(kind, source_kind, ident, owner_id, options)
    values = {
        "id": new_id(),
        "created_at": utcnow(),
        "updated_at": utcnow(),
        "kind": kind,
        "source_kind": source_kind,
        "source": source,
        "options": options,
        "owner_id": owner_id,
        "media_id": media_id,
        "batch_id": batch_id,
        "transcript_id": transcript_id,
        "dedupe_key": key,
        "status": JobStatus.QUEUED,
        "attempts": 0,
        "progress": 0.0,
    }
    inserted = await repository.insert_unfinished_once(session, values)
    job = await repository.unfinished_by_key(session, key)
    if job is None:  # the identical job finished between our insert and this read
        again = {"owner_id": owner_id, "media_id": media_id, "batch_id": batch_id,
                 "transcript_id": transcript_id}  # fmt: skip
        return await _create_once(session, kind, source_kind, source, options, **again)
    return job, inserted


async def submit(
    session: AsyncSession, kind: str, sources: Sequence[str], options: dict[str, Any]
) -> tuple[list[Job], list[Job]]:
    """One job per local path given by the operator, in order, and the new ones among them. An
    unfinished job for the same path and options is reused, so running a killed batch again
    resumes it instead of duplicating it."""
    batch_id = new_id()
    by_source: dict[str, Job] = {}
    fresh: list[Job] = []
    for source in dict.fromkeys(sources):
        job, new = await _create_once(
            session, kind, SourceKind.PATH, source, options, batch_id=batch_id
        )
        by_source[source] = job
        if new:
            fresh.append(job)
    return [by_source[s] for s in sources], fresh


async def create(
    session: AsyncSession, kind: str, url: str, options: dict[str, Any], owner_id: str | None
) -> Job:
    """A new queued job that sends to ``url`` (a webhook delivery); the caller enqueues it after
    its unit of work commits."""
    job = Job(kind=kind, source_kind=SourceKind.URL, source=url, options=options, owner_id=owner_id)
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
) -> tuple[Job, bool]:
    """A job on stored media; an unfinished one with the same options is reused (also when
    identical requests arrive at the same moment). True when the job is new."""
    return await _create_once(
        session, kind, SourceKind.MEDIA, media.filename, options,
        owner_id=owner_id, media_id=media.id,
    )  # fmt: skip


async def submit_refine(
    session: AsyncSession,
    media: Media,
    transcript_id: str,
    options: dict[str, Any],
    owner_id: str | None,
) -> tuple[Job, bool]:
    """A job running stages on a stored transcript (``options``: parent version and stages);
    an identical unfinished one is reused. True when the job is new."""
    return await _create_once(
        session, REFINE, SourceKind.MEDIA, media.filename, options,
        owner_id=owner_id, media_id=media.id, transcript_id=transcript_id,
    )  # fmt: skip


async def submit_render(
    session: AsyncSession,
    media: Media,
    transcript_id: str,
    options: dict[str, Any],
    owner_id: str | None,
) -> tuple[Job, bool]:
    """A job burning a transcript version's captions into its media (``options``: version and
    resolved style); an identical unfinished one is reused. True when the job is new."""
    return await _create_once(
        session, RENDER, SourceKind.MEDIA, media.filename, options,
        owner_id=owner_id, media_id=media.id, transcript_id=transcript_id,
    )  # fmt: skip


async def list_page(
    session: AsyncSession, owner_id: str, status: JobStatus | None, page: PageRequest
) -> tuple[list[JobView], str | None]:
    rows, cursor = paged(await repository.list_page(session, owner_id, status, page), page)
    return [JobView.model_validate(j) for j in rows], cursor


async def changed_since(
    session: AsyncSession,
    owner_id: str | None,
    since: datetime,
    kinds: Sequence[str] = (TRANSCRIBE, REFINE, RENDER),
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
    version: int | None = None,
) -> Job:
    job = await _owned(session, job_id, owner)
    _finish(job, JobStatus.SUCCEEDED)
    job.media_id, job.transcript_id = media_id, transcript_id
    job.transcript_version = version
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
        if job.source_kind is SourceKind.MEDIA and job.media_id is None:
            raise errors.ConflictError(MEDIA_GONE.format(job_id=job.id))
        if job.dedupe_key and (
            other := await repository.unfinished_by_key(session, job.dedupe_key)
        ):
            raise errors.ConflictError(
                ALREADY_QUEUED.format(job_id=job.id, other=other.id, status=other.status.value)
            )
        job.status, job.attempts, job.progress, job.stage = JobStatus.QUEUED, 0, 0.0, None
        job.error_kind = job.error_message = None
        job.finished_at = None
        job.enqueued_at = utcnow()
    await session.flush()
    return jobs


async def fail_for_media(
    session: AsyncSession, media_id: str, kind: str, message: str
) -> list[Job]:
    """Fail every unfinished job on this media (it is being deleted); a running one stops at
    its next heartbeat."""
    jobs = await repository.unfinished_on_media(session, media_id)
    for job in jobs:
        _finish(job, JobStatus.FAILED)
        job.error_kind, job.error_message = kind, message
    await session.flush()
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
            if job.id not in held and (job.enqueued_at or job.created_at) < grace:
                lost.append(job)
        elif _lease_lost(job, now) and await repository.requeue_lost(
            session, job.id, job.lease_owner, job.lease_expires_at
        ):
            lost.append(job)
    return lost


def _lease_lost(job: Job, now: datetime) -> bool:
    expired = job.lease_expires_at is None or job.lease_expires_at < now
    return expired or owner_is_gone(job.lease_owner)


async def list_jobs(
    session: AsyncSession, status: JobStatus | None = None, limit: int = 100
) -> list[JobView]:
    return [JobView.model_validate(j) for j in await repository.list_jobs(session, status, limit)]
