"""``/api/v1/jobs``: status and progress, cancel, retry. Only the owner sees a job."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from trax.deps import CurrentUser, PageParams, UoW
from trax.jobs import control
from trax.jobs import service as jobs
from trax.jobs.models import JobStatus
from trax.jobs.schemas import JobView
from trax.pagination import Page

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("")
async def list_jobs(
    user: CurrentUser,
    uow: UoW,
    page: PageParams,
    status: Annotated[JobStatus | None, Query()] = None,
) -> Page[JobView]:
    """Your jobs, newest first (optionally only those with ``status``)."""
    items, cursor = await jobs.list_page(uow.session, user.id, status, page)
    return Page(items=items, next_cursor=cursor)


@router.get("/{job_id}")
async def get_job(job_id: str, user: CurrentUser, uow: UoW) -> JobView:
    """A job's status, progress (fraction and stage), attempts and last error."""
    return JobView.model_validate(await jobs.get(uow.session, job_id, user.id))


@router.post("/{job_id}/cancel")
async def cancel_job(job_id: str, user: CurrentUser, uow: UoW) -> JobView:
    """Cancel a queued or running job (409 when it already finished); your webhooks get
    ``job.cancelled``."""
    return JobView.model_validate(await control.cancel(uow, job_id, user.id))


@router.post("/{job_id}/retry", status_code=status.HTTP_202_ACCEPTED)
async def retry_job(job_id: str, user: CurrentUser, uow: UoW) -> JobView:
    """Queue a failed or cancelled job again with fresh attempts (409 otherwise, and when its
    media was deleted)."""
    (job,) = await control.retry(uow, [job_id], user.id)
    return JobView.model_validate(job)
