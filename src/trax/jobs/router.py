"""``/api/v1/jobs``: status and progress, cancel, retry. Only the owner sees a job."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, status

from trax.jobs import events
from trax.jobs import service as jobs
from trax.jobs.models import JobStatus
from trax.jobs.recovery import recover
from trax.jobs.schemas import JobView
from trax.pagination import Page
from trax.queue import Queue
from trax.runtime import Runtime
from trax.system.router import PageParams, queue, runtime
from trax.users.auth import CurrentUser

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
Rt = Annotated[Runtime, Depends(runtime)]
Q = Annotated[Queue, Depends(queue)]


@router.get("")
async def list_jobs(
    user: CurrentUser,
    rt: Rt,
    page: PageParams,
    status: Annotated[JobStatus | None, Query()] = None,
) -> Page[JobView]:
    """Your jobs, newest first (optionally only those with ``status``)."""
    async with rt.db.session() as s:
        items, cursor = await jobs.list_page(s, user.id, status, page)
    return Page(items=items, next_cursor=cursor)


@router.get("/{job_id}")
async def get_job(job_id: str, user: CurrentUser, rt: Rt) -> JobView:
    """A job's status, progress (fraction and stage), attempts and last error."""
    async with rt.db.session() as s:
        return JobView.model_validate(await jobs.get(s, job_id, user.id))


@router.post("/{job_id}/cancel")
async def cancel_job(job_id: str, user: CurrentUser, rt: Rt, q: Q) -> JobView:
    """Cancel a queued or running job (409 when it already finished)."""
    async with rt.db.session() as s:
        job = await jobs.cancel(s, job_id, user.id)
        followups = await events.job_finished(s, job)
        view = JobView.model_validate(job)
    await anyio.to_thread.run_sync(q.enqueue, followups)
    return view


@router.post("/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_job(job_id: str, user: CurrentUser, rt: Rt, q: Q) -> JobView:
    """Queue a failed or cancelled job again with fresh attempts (409 otherwise)."""
    async with rt.db.session() as s:
        await jobs.retry(s, [job_id], user.id)
    await recover(rt, q, grace_seconds=0, only=[job_id])
    async with rt.db.session() as s:
        return JobView.model_validate(await jobs.get(s, job_id, user.id))
