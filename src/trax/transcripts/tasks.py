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
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import structlog

from trax import errors
from trax.config import Settings
from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import MediaProbe
from trax.engine.models import LoadOptions
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.media import service as media_service
from trax.media.service import Limits
from trax.runtime import Runtime
from trax.transcripts import service as transcripts

log = structlog.get_logger(__name__)
INTERNAL_ERROR = "internal error: {detail}"
TIME_LIMIT = "{source}: took longer than the {limit:.0f} s job time limit"
T = TypeVar("T")


class TransientJobError(Exception):
    """Raised to the broker after a job was put back in the queue: retry it with backoff."""


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


def limits_for(settings: Settings) -> Limits:
    return Limits(settings.max_file_bytes, settings.max_duration_seconds)


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


async def run_transcribe(rt: Runtime, job_id: str) -> Job | None:
    """Run one transcribe job to its end. None when the job was not ours to run (finished,
    cancelled, or held by a live worker): redelivery is a no-op."""
    owner = jobs.this_owner()
    async with rt.db.session() as s:
        if not await jobs.claim(s, job_id, owner, rt.settings.lease_seconds):
            return None
        job = await jobs.get(s, job_id)
        source, options, attempts = job.source, TranscribeOptions(**job.options), job.attempts
    deadline = time.monotonic() + rt.settings.job_time_limit_seconds
    lease = Lease(rt, job_id, owner, source, deadline)
    try:
        return await _with_lease(lease, _transcribe(rt, lease, Path(source), options))
    except errors.TimeLimitExceeded as exc:
        return await _finish_failed(rt, lease, exc.code, exc.message)
    except errors.JobAborted:
        log.info("job stopped: cancelled or taken over", job_id=job_id)
        return None
    except errors.TraxError as exc:
        if exc.permanent:
            return await _finish_failed(rt, lease, exc.code, exc.message)
        kind, message = exc.code, exc.message
    except Exception as exc:  # unexpected: keep the reason, retry, then fail
        log.exception("transcribe job crashed", job_id=job_id, source=source)
        kind, message = "internal_error", INTERNAL_ERROR.format(detail=f"{source}: {exc!r}")
    if attempts >= rt.settings.job_max_attempts:
        return await _finish_failed(rt, lease, kind, message)
    async with rt.db.session() as s:
        await jobs.requeue(s, job_id, owner, kind, message)
    raise TransientJobError(message)


async def _finish_failed(rt: Runtime, lease: Lease, kind: str, message: str) -> Job | None:
    try:
        async with rt.db.session() as s:
            return await jobs.fail(s, lease.job_id, lease.owner, kind, message)
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


async def _transcribe(rt: Runtime, lease: Lease, source: Path, options: TranscribeOptions) -> Job:
    lease.report("probing", 0.0)
    staged = await media_service.stage_file(rt.storage, source, limits_for(rt.settings))
    lease.check()
    async with rt.db.session() as s:
        media = await media_service.record(s, staged)
        cached = await transcripts.find_cached(s, media.id, options)
        if cached is not None:
            return await jobs.succeed(s, lease.job_id, lease.owner, media.id, cached.id, True)
    stored = dataclasses.replace(
        staged.probe, path=rt.storage.local_path(media.storage_key), label=str(source)
    )
    document = await _infer(rt, lease, stored, options)
    async with rt.db.session() as s:
        # Another worker may have finished the same recipe meanwhile: keep theirs.
        existing = await transcripts.find_cached(s, media.id, options)
        if existing is not None:
            return await jobs.succeed(s, lease.job_id, lease.owner, media.id, existing.id, True)
        transcript = await transcripts.save_basic(s, media, options, document)
        return await jobs.succeed(s, lease.job_id, lease.owner, media.id, transcript.id, False)


async def _infer(
    rt: Runtime, lease: Lease, media: MediaProbe, options: TranscribeOptions
) -> TranscriptDocument:
    transcriber = transcriber_for(rt.settings)
    lease.report("transcribing", 0.0)

    def on_fraction(fraction: float) -> None:
        lease.report("transcribing", fraction)

    return await anyio.to_thread.run_sync(transcriber.transcribe, media, options, on_fraction)
