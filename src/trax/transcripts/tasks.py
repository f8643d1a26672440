"""The transcribe job: a file becomes a stored transcript. Takes a job id, owns its units of work.

The job is claimed with a lease that a heartbeat renews while it runs; a cancelled job or a lost
lease stops it at the next heartbeat. Inference runs in a worker thread and no transaction is
held open while it runs. A transcript for the same media bytes and recipe is reused, so a
redelivered or re-run job never makes a second one. Permanent failures (bad media, unusable
model) fail at once; transient ones are put back in the queue for the broker to retry.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.config import Settings
from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import MediaProbe, probe
from trax.engine.models import LoadOptions
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.jobs import events
from trax.jobs import service as jobs
from trax.jobs.models import Job, SourceKind
from trax.media import service as media_service
from trax.media.models import Media
from trax.media.service import Limits
from trax.queue import TIME_LIMIT_MARGIN_S, ActorSpec
from trax.runtime import Runtime
from trax.storage import Storage
from trax.transcripts import service as transcripts
from trax.unit_of_work import Delivery

log = structlog.get_logger(__name__)
INTERNAL_ERROR = "internal error: {detail}"
TIME_LIMIT = "{source}: took longer than the {limit:.0f} s job time limit"
T = TypeVar("T")
#: Backoff between retries of a transient failure (Dramatiq adds jitter).
MIN_BACKOFF_MS = 2_000
MAX_BACKOFF_MS = 120_000


@functools.cache
def transcriber_for(settings: Settings) -> Transcriber:
    """The process's transcriber for these settings (models are shared process-wide)."""
    return Transcriber(
        EngineConfig(
            model_cache_dir=settings.model_cache_dir,
            window_seconds=settings.window_seconds,
            max_duration=settings.max_duration_seconds,
            batch_size=settings.batch_size,
            load=LoadOptions(compute_type=settings.compute_type, cpu_threads=settings.cpu_threads),
            idle_seconds=settings.model_idle_seconds,
        )
    )


@dataclasses.dataclass
class Lease:
    """A claimed job's lease: renewed by :meth:`keep`, checked by :meth:`check`."""

    rt: Runtime
    job_id: str
    owner: str
    source: str
    deadline: float
    progress: float = 0.0
    stage: str = "starting"
    aborted: errors.JobAborted | None = None
    #: Jobs created with this job's outcome (webhook deliveries), to enqueue after commit.
    followups: list[jobs.JobRef] = dataclasses.field(default_factory=list)

    def check(self) -> None:
        """Raise if the job must stop (safe to call from any thread)."""
        if self.aborted is not None:
            raise self.aborted
        if time.monotonic() > self.deadline:
            limit = self.rt.settings.job_time_limit_seconds
            raise errors.TimeLimitExceeded(TIME_LIMIT.format(source=self.source, limit=limit))

    def report(self, stage: str, fraction: float) -> None:
        self.stage, self.progress = stage, fraction
        self.check()

    async def keep(self) -> None:
        interval = min(1.0, self.rt.settings.lease_seconds / 3)
        while True:
            await anyio.sleep(interval)
            async with self.rt.db.session() as s:
                kept = await jobs.heartbeat(
                    s,
                    self.job_id,
                    self.owner,
                    self.rt.settings.lease_seconds,
                    self.progress,
                    self.stage,
                )
            if not kept:
                self.aborted = errors.JobAborted(f"job {self.job_id} was cancelled or taken over")
                return


def transcribe_actor(settings: Settings) -> ActorSpec:
    """The ``transcribe`` actor: retried with backoff up to ``TRAX_JOB_MAX_ATTEMPTS``; Dramatiq's
    time limit is a backstop above the job's own ``TRAX_JOB_TIME_LIMIT_SECONDS``."""
    return ActorSpec(
        kind=jobs.TRANSCRIBE,
        run=run_transcribe,
        retries=settings.job_max_attempts - 1,
        backoff_ms=(MIN_BACKOFF_MS, MAX_BACKOFF_MS),
        time_limit_s=settings.job_time_limit_seconds + TIME_LIMIT_MARGIN_S,
    )


async def run_transcribe(rt: Runtime, delivery: Delivery, job_id: str) -> Job | None:
    """Run one transcribe job to its end. None when the job was not ours to run (finished,
    cancelled, or held by a live worker): redelivery is a no-op. Webhook deliveries for the
    outcome are created with it and enqueued after it is committed."""
    owner = jobs.this_owner()
    async with rt.db.session() as s:
        if not await jobs.claim(s, job_id, owner, rt.settings.lease_seconds):
            return None
        job = await jobs.get(s, job_id)
        work = _Work(job.source, job.source_kind, job.media_id, job.owner_id,
                     TranscribeOptions(**job.options))  # fmt: skip
        attempts = job.attempts
    deadline = time.monotonic() + rt.settings.job_time_limit_seconds
    lease = Lease(rt, job_id, owner, work.source, deadline)
    try:
        return await _run(rt, lease, work, attempts)
    finally:
        if lease.followups:
            await anyio.to_thread.run_sync(delivery.enqueue, lease.followups)


@dataclasses.dataclass(frozen=True)
class _Work:
    source: str
    source_kind: SourceKind
    media_id: str | None
    owner_id: str | None
    options: TranscribeOptions


async def _run(rt: Runtime, lease: Lease, work: _Work, attempts: int) -> Job | None:
    try:
        return await _with_lease(lease, _transcribe(rt, lease, work))
    except errors.TimeLimitExceeded as exc:
        return await _finish_failed(rt, lease, exc.code, exc.message)
    except errors.JobAborted:
        log.info("job stopped: cancelled or taken over", job_id=lease.job_id)
        return None
    except errors.TraxError as exc:
        if exc.permanent:
            return await _finish_failed(rt, lease, exc.code, exc.message)
        kind, message = exc.code, exc.message
    except Exception as exc:  # unexpected: keep the reason, retry, then fail
        log.exception("transcribe job crashed", job_id=lease.job_id, source=work.source)
        kind, message = "internal_error", INTERNAL_ERROR.format(detail=f"{work.source}: {exc!r}")
    if attempts >= rt.settings.job_max_attempts:
        return await _finish_failed(rt, lease, kind, message)
    async with rt.db.session() as s:
        await jobs.requeue(s, lease.job_id, lease.owner, kind, message)
    raise errors.TransientJobError(message)


async def _finish_failed(rt: Runtime, lease: Lease, kind: str, message: str) -> Job | None:
    try:
        async with rt.db.session() as s:
            job = await jobs.fail(s, lease.job_id, lease.owner, kind, message)
            lease.followups += await events.job_finished(s, job)
            return job
    except errors.JobAborted:
        return None


async def _with_lease(lease: Lease, work: Awaitable[T]) -> T:
    """Run ``work`` while the lease is kept alive; its exceptions come out unwrapped."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(lease.keep)
        try:
            outcome.append(await work)
        except Exception as exc:
            failure.append(exc)
        tg.cancel_scope.cancel()
    if failure:
        raise failure[0]
    return outcome[0]


async def _succeed(
    s: AsyncSession, lease: Lease, media: Media, transcript_id: str, cached: bool
) -> Job:
    job = await jobs.succeed(s, lease.job_id, lease.owner, media.id, transcript_id, cached)
    lease.followups += await events.job_finished(s, job)
    return job


async def _media(rt: Runtime, lease: Lease, work: _Work) -> tuple[Media, MediaProbe | None]:
    """The job's media row: stored already (API uploads), or staged now from a local path.

    Only the operator's own jobs (``SourceKind.PATH``) read a path on this machine: a job on
    stored media whose media is gone fails; its label is never resolved against our disk."""
    if work.source_kind is not SourceKind.PATH:
        if work.media_id is None:
            raise errors.MediaDeletedError(work.source)
        async with rt.db.session() as s:
            try:
                return await media_service.get_media(s, work.media_id, work.owner_id), None
            except errors.NotFoundError as exc:
                raise errors.MediaDeletedError(work.source) from exc
    staged = await media_service.stage_file(rt.storage, Path(work.source), Limits.of(rt.settings))
    lease.check()
    async with rt.db.session() as s:
        return await media_service.record(s, rt.storage, staged, work.owner_id), staged.probe


async def _transcribe(rt: Runtime, lease: Lease, work: _Work) -> Job:
    lease.report("probing", 0.0)
    media, probed = await _media(rt, lease, work)
    async with rt.db.session() as s:
        cached = await transcripts.find_cached(s, media.id, work.options)
        if cached is not None:
            return await _succeed(s, lease, media, cached.id, True)
    async with local_copy(rt.storage, media.storage_key) as path:
        if probed is None:
            lim = Limits.of(rt.settings)
            probed = await anyio.to_thread.run_sync(
                lambda: probe(path, max_bytes=lim.max_bytes, max_duration=lim.max_duration)
            )
        stored = dataclasses.replace(probed, path=path, label=work.source)
        document = await _infer(rt, lease, stored, work.options)
    async with rt.db.session() as s:
        # Another worker may have finished the same recipe meanwhile: keep theirs.
        existing = await transcripts.find_cached(s, media.id, work.options)
        if existing is not None:
            return await _succeed(s, lease, media, existing.id, True)
        transcript = await transcripts.save_basic(s, media, work.options, document)
        return await _succeed(s, lease, media, transcript.id, False)


@asynccontextmanager
async def local_copy(storage: Storage, key: str) -> AsyncIterator[Path]:
    """A local file with a stored object's bytes (downloaded first from remote storage)."""
    copy = storage.local_copy(key)
    path = await anyio.to_thread.run_sync(copy.__enter__)
    try:
        yield path
    finally:
        await anyio.to_thread.run_sync(copy.__exit__, None, None, None)


async def _infer(
    rt: Runtime, lease: Lease, media: MediaProbe, options: TranscribeOptions
) -> TranscriptDocument:
    transcriber = transcriber_for(rt.settings)
    lease.report("transcribing", 0.0)

    def on_fraction(fraction: float) -> None:
        lease.report("transcribing", fraction)

    return await anyio.to_thread.run_sync(transcriber.transcribe, media, options, on_fraction)
