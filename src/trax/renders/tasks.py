"""The render job: a transcript version's captions burned into its media, stored as an MP4.

It runs like a transcription (:mod:`trax.transcripts.tasks`): claimed with a lease a heartbeat
renews, permanent failures (FFmpeg refusing the input, a video of another length, deleted media)
fail at once, transient ones (storage unreachable, an FFmpeg killed by someone else) go back to
the queue. FFmpeg's progress is the job's; a cancel or the time limit kills it at the next
check (a quarter second). Its scratch folder (the script, the output before it is stored) is
removed on every way out; a killed process's folder is swept by :mod:`trax.workfiles`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors, workfiles
from trax.captions.ass import build_ass
from trax.config import Settings
from trax.jobs import events
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.media import service as media_service
from trax.media.models import Media
from trax.queue import ActorSpec
from trax.renders import burn
from trax.renders import service as renders
from trax.renders.models import Render
from trax.renders.service import RenderRequest
from trax.runtime import Runtime
from trax.storage import RENDERS, StoredObject
from trax.transcripts import service as transcripts
from trax.transcripts.schemas import TranscriptDetail
from trax.transcripts.tasks import Lease, _actor, _run_job, _Work, local_copy
from trax.unit_of_work import Delivery

#: Progress stays below this until the render is stored.
_BEFORE_STORED = 0.98


def render_actor(settings: Settings) -> ActorSpec:
    """The ``render`` actor: the same retries and time limit as a transcription."""
    return _actor(settings, jobs.RENDER, run_render)


async def run_render(rt: Runtime, delivery: Delivery, job_id: str) -> Job | None:
    """Run one render job to its end; None when it was not ours to run (see run_transcribe)."""
    return await _run_job(rt, delivery, job_id, _render)


async def _render(rt: Runtime, lease: Lease, work: _Work) -> Job:
    if work.transcript_id is None:  # its media (and so the transcript) was deleted
        raise errors.MediaDeletedError(work.source)
    lease.report("preparing", 0.0)
    async with rt.db.session() as s:
        request = RenderRequest.of((await jobs.get(s, lease.job_id)).options)
        detail = await transcripts.get_transcript(
            s, work.transcript_id, request.version, work.owner_id
        )
        media = await _media(s, work)
        existing = await renders.find(s, detail.id, request)
    if existing is not None:
        return await _succeed(rt, lease, detail, existing, cached=True)
    started = time.monotonic()
    stored, made = await _burn(rt, lease, media, detail, request, work.source)
    made.wall_seconds = round(time.monotonic() - started, 3)
    try:
        return await _succeed(rt, lease, detail, made, cached=False)
    except BaseException:
        # Cancelled or media deleted meanwhile: keep no bytes that no render row names.
        with anyio.CancelScope(shield=True):
            async with rt.db.session() as s:
                await renders.remove_unused(s, rt.storage, [stored.key])
        raise


async def _media(s: AsyncSession, work: _Work) -> Media:
    """The job's media; gone (deleted meanwhile) fails the job for good."""
    if work.media_id is None:
        raise errors.MediaDeletedError(work.source)
    try:
        return await media_service.get_media(s, work.media_id, work.owner_id)
    except errors.NotFoundError as exc:
        raise errors.MediaDeletedError(work.source) from exc


async def _burn(
    rt: Runtime,
    lease: Lease,
    media: Media,
    detail: TranscriptDetail,
    request: RenderRequest,
    label: str,
) -> tuple[StoredObject, Render]:
    """Render in a scratch folder and store the MP4; returns it and its (unsaved) row."""
    style = request.style

    def report(fraction: float) -> None:
        lease.report("rendering", fraction * _BEFORE_STORED)

    async with local_copy(rt.storage, media.storage_key) as path, _scratch(rt.settings) as folder:
        source = await anyio.to_thread.run_sync(burn.inspect, path, label, style)
        burn.check_duration(source, detail.document.duration, label)
        script = build_ass(detail.document, style, source.width, source.height)
        await anyio.to_thread.run_sync(burn.prepare, folder, script)
        lease.report("rendering", 0.0)
        output = await burn.burn(
            burn.command(source, style), folder, source.duration, label, report, lease.check
        )
        made = await anyio.to_thread.run_sync(burn.inspect, output, label, style)
        lease.report("storing", _BEFORE_STORED)
        stored = await anyio.to_thread.run_sync(rt.storage.put_file, output, ".mp4", RENDERS)
    row = Render(
        owner_id=media.owner_id,
        transcript_id=detail.id,
        media_id=media.id,
        version=request.version,
        style=request.preset,
        options=style.as_dict(),
        recipe_key=request.recipe_key,
        storage_key=stored.key,
        size_bytes=stored.size,
        duration=round(made.duration, 3),
        width=made.width,
        height=made.height,
    )
    return stored, row


async def _succeed(
    rt: Runtime, lease: Lease, detail: TranscriptDetail, render: Render, cached: bool
) -> Job:
    async with rt.db.session() as s:
        job = await jobs.succeed(
            s, lease.job_id, lease.owner, detail.media_id, detail.id, cached, detail.version
        )
        if not cached:
            render = await renders.add(s, render)
        job.render_id = render.id
        lease.followups += await events.job_finished(s, job)
        return job


@asynccontextmanager
async def _scratch(settings: Settings) -> AsyncIterator[Path]:
    """A private folder under ``scratch/``, removed on every way out."""
    folder = await anyio.to_thread.run_sync(
        workfiles.new_folder, settings.data_dir / workfiles.SCRATCH
    )
    try:
        yield folder
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(shutil.rmtree, folder, True)
