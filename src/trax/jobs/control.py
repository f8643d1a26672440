"""The job use cases every edge shares: submit, cancel, retry.

The CLI, the API and the workers call these with a :class:`~trax.unit_of_work.UnitOfWork`; each
does its whole action in that one transaction (the job rows, their ``job.*`` webhook events) and
leaves the messages in the outbox, sent after the edge commits. So ``trax jobs cancel`` and
``POST /api/v1/jobs/{id}/cancel`` do the same thing, webhooks included.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trax import errors
from trax.engine.options import TranscribeOptions
from trax.jobs import events
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.media import service as media_service
from trax.media.models import Media
from trax.transcripts.stages import StageRequest, job_options
from trax.unit_of_work import UnitOfWork


async def submit_paths(
    uow: UnitOfWork,
    inputs: Sequence[Path],
    options: TranscribeOptions,
    stages: Sequence[StageRequest] = (),
) -> tuple[list[Job], list[Job]]:
    """One transcribe job per local file (the operator's CLI), in order, reusing unfinished
    identical ones; the new ones are delivered after the commit. Returns (all, reused).
    ``stages`` run on each transcription (a pipeline preset)."""
    sources = [str(p.absolute()) for p in inputs]
    batch, fresh = await jobs.submit(
        uow.session, jobs.TRANSCRIBE, sources, job_options(options.as_dict(), stages)
    )
    uow.enqueue(fresh)
    fresh_ids = {j.id for j in fresh}
    return batch, [j for j in dict.fromkeys(batch) if j.id not in fresh_ids]


async def submit_media(
    uow: UnitOfWork,
    media: Media,
    options: TranscribeOptions,
    owner_id: str,
    stages: Sequence[StageRequest] = (),
) -> Job:
    """A transcribe job on the owner's stored media, then ``stages``. Identical requests (also
    concurrent ones) get the same unfinished job; a new job is delivered after the commit."""
    job, new = await jobs.submit_for_media(
        uow.session, jobs.TRANSCRIBE, media, job_options(options.as_dict(), stages), owner_id
    )
    if new:
        uow.enqueue([job])
    return job


async def submit_stages(
    uow: UnitOfWork,
    transcript_ref: str,
    stages: Sequence[StageRequest],
    parent_version: int | None = None,
    owner_id: str | None = None,
) -> Job:
    """A refine job running ``stages`` on a stored version (default: the newest) of a
    transcript. ``owner_id`` None is the operator, who may give any unique id prefix. The same
    request while one is unfinished gets that job; stages already stored are reused."""
    from trax.transcripts import service as transcripts

    detail = await transcripts.get_transcript(uow.session, transcript_ref, parent_version, owner_id)
    media = await media_service.get_media(uow.session, detail.media_id, owner_id)
    options = job_options({}, stages, detail.version)
    job, new = await jobs.submit_refine(uow.session, media, detail.id, options, owner_id)
    if new:
        uow.enqueue([job])
    return job


async def cancel(uow: UnitOfWork, job_ref: str, owner_id: str | None = None) -> Job:
    """Cancel a queued or running job and tell its owner's webhooks. ``owner_id`` None is the
    operator, who may give any unique id prefix."""
    job_id = job_ref if owner_id is not None else await jobs.resolve_id(uow.session, job_ref)
    job = await jobs.cancel(uow.session, job_id, owner_id)
    uow.enqueue(await events.job_finished(uow.session, job))
    return job


async def retry(
    uow: UnitOfWork, job_refs: Sequence[str] | None, owner_id: str | None = None
) -> list[Job]:
    """Queue failed or cancelled jobs again (``None``: every failed job) with fresh attempts;
    they are delivered after the commit."""
    ids = None
    if job_refs is not None:
        ids = list(job_refs)
        if owner_id is None:
            ids = [await jobs.resolve_id(uow.session, ref) for ref in job_refs]
    retried = await jobs.retry(uow.session, ids, owner_id)
    uow.enqueue(retried)
    return retried


async def media_deleted(uow: UnitOfWork, media: Media) -> list[Job]:
    """Fail the unfinished jobs on media that is being deleted (a running one stops at its next
    heartbeat), telling their owners' webhooks."""
    failed = await jobs.fail_for_media(
        uow.session,
        media.id,
        errors.MediaDeletedError.code,
        errors.MEDIA_DELETED.format(name=media.filename),
    )
    for job in failed:
        uow.enqueue(await events.job_finished(uow.session, job))
    return failed
