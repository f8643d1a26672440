"""The transcribe job: a file becomes a stored transcript. Takes a job id, owns its units of work.

Inference runs in a worker thread; no transaction is held open while it runs. A transcript for
the same media bytes and recipe is reused, so a re-run never makes a second one.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import socket
from collections.abc import Callable
from pathlib import Path

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
HEARTBEAT_SECONDS = 2.0
INTERNAL_ERROR = "internal error: {detail}"

#: Called with (stage, fraction of the job done).
ProgressFn = Callable[[str, float], None]


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
        )
    )


def limits_for(settings: Settings) -> Limits:
    return Limits(settings.max_file_bytes, settings.max_duration_seconds)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_transcribe(rt: Runtime, job_id: str, on_progress: ProgressFn | None = None) -> Job:
    """Run one transcribe job to its end; the job row records success or the failure."""
    report = on_progress or (lambda _stage, _fraction: None)
    async with rt.db.session() as s:
        job = await jobs.start(s, job_id, worker_name())
        source, options = Path(job.source), TranscribeOptions(**job.options)
    try:
        return await _transcribe(rt, job_id, source, options, report)
    except errors.TraxError as exc:
        kind, message = exc.code, exc.message
    except Exception as exc:  # never lose the outcome: record it on the row
        log.exception("transcribe job crashed", job_id=job_id, source=str(source))
        kind, message = "internal_error", INTERNAL_ERROR.format(detail=f"{source}: {exc!r}")
    async with rt.db.session() as s:
        return await jobs.fail(s, job_id, kind, message)


async def _transcribe(
    rt: Runtime, job_id: str, source: Path, options: TranscribeOptions, report: ProgressFn
) -> Job:
    report("probing", 0.0)
    staged = await media_service.stage_file(rt.storage, source, limits_for(rt.settings))
    async with rt.db.session() as s:
        media = await media_service.record(s, staged)
        cached = await transcripts.find_cached(s, media.id, options)
        if cached is not None:
            report("cached", 1.0)
            return await jobs.succeed(s, job_id, media.id, cached.id, cached=True)
    stored = dataclasses.replace(
        staged.probe, path=rt.storage.local_path(media.storage_key), label=str(source)
    )
    document = await _infer(rt, job_id, stored, options, report)
    async with rt.db.session() as s:
        # Another worker may have finished the same recipe meanwhile: keep theirs.
        existing = await transcripts.find_cached(s, media.id, options)
        if existing is not None:
            return await jobs.succeed(s, job_id, media.id, existing.id, cached=True)
        transcript = await transcripts.save_basic(s, media, options, document)
        report("done", 1.0)
        return await jobs.succeed(s, job_id, media.id, transcript.id, cached=False)


async def _infer(
    rt: Runtime, job_id: str, media: MediaProbe, options: TranscribeOptions, report: ProgressFn
) -> TranscriptDocument:
    latest = [0.0]

    def on_fraction(fraction: float) -> None:
        latest[0] = fraction
        report("transcribing", fraction)

    async def heartbeat() -> None:
        while True:
            await anyio.sleep(HEARTBEAT_SECONDS)
            async with rt.db.session() as s:
                await jobs.progress(s, job_id, latest[0], "transcribing")

    report("transcribing", 0.0)
    failure: Exception | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(heartbeat)
        try:
            document = await anyio.to_thread.run_sync(
                transcriber_for(rt.settings).transcribe, media, options, on_fraction
            )
        except Exception as exc:  # re-raised below, not wrapped in an ExceptionGroup
            failure = exc
        tg.cancel_scope.cancel()
    if failure is not None:
        raise failure
    return document
