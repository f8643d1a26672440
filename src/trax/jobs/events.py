"""What happens when a job finishes: its owner's webhooks are told (``job.<status>`` events).

Called in the unit of work that finishes the job, so the deliveries exist exactly when the
outcome does; the caller enqueues the returned jobs after the commit.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from trax.jobs.models import Job
from trax.jobs.schemas import JobView
from trax.jobs.service import WEBHOOK, JobRef
from trax.webhooks import service as webhooks


async def job_finished(session: AsyncSession, job: Job) -> list[JobRef]:
    if job.owner_id is None or job.kind == WEBHOOK or not job.status.finished:
        return []
    finished = job.finished_at.isoformat() if job.finished_at else ""
    view = JobView.model_validate(job).model_dump(mode="json", exclude={"lease_owner"})
    return await webhooks.emit(
        session,
        job.owner_id,
        f"job.{job.status.value}",
        event_id=f"{job.id}:{job.status.value}:{finished}",
        data={"job": view},
    )


async def version_created(
    session: AsyncSession, owner_id: str | None, transcript_id: str, version: int, job_id: str
) -> list[JobRef]:
    """A stage stored a new transcript version: ``transcript.version_created``."""
    from trax.transcripts import service as transcripts

    summary = await transcripts.version_summary(session, transcript_id, version)
    return await webhooks.emit(
        session,
        owner_id,
        "transcript.version_created",
        event_id=f"{transcript_id}:v{version}",
        data={"transcript_id": transcript_id, "job_id": job_id,
              "version": summary.model_dump(mode="json")},
    )  # fmt: skip
