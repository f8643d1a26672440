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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread
import structlog

from trax import errors
from trax.config import Settings
from trax.engine.asr import EngineConfig, Transcriber
from trax.engine.audio import MediaProbe, probe
from trax.engine.llm import Meter
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
from trax.transcripts import stages
from trax.transcripts.stages import PARENT_KEY, STAGES_KEY, StageRequest
from trax.unit_of_work import Delivery

log = structlog.get_logger(__name__)
INTERNAL_ERROR = "internal error: {detail}"
TIME_LIMIT = "{source}: took longer than the {limit:.0f} s job time limit"
T = TypeVar("T")
#: Backoff between retries of a transient failure (Dramatiq adds jitter).
MIN_BACKOFF_MS = 2_000
MAX_BACKOFF_MS = 120_000
#: Progress stays below this until the job is finished.
_BEFORE_DONE = 0.99


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
            diarization_model_dir=settings.diarization_model_dir,
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
    return _actor(settings, jobs.TRANSCRIBE, run_transcribe)


def refine_actor(settings: Settings) -> ActorSpec:
    """The ``refine`` actor (stages on a stored transcript): the same retries and limits."""
    return _actor(settings, jobs.REFINE, run_refine)


def _actor(settings: Settings, kind: str, run: Callable[..., Awaitable[Job | None]]) -> ActorSpec:
    return ActorSpec(
        kind=kind,
        run=run,
        retries=settings.job_max_attempts - 1,
        backoff_ms=(MIN_BACKOFF_MS, MAX_BACKOFF_MS),
        time_limit_s=settings.job_time_limit_seconds + TIME_LIMIT_MARGIN_S,
    )


@dataclasses.dataclass(frozen=True)
class _Work:
    """What a job asks for. A transcribe job: the first transcription with ``options``, then
    ``stages``; a refine job: ``stages`` on ``parent_version`` of ``transcript_id``."""

    source: str
    source_kind: SourceKind
    media_id: str | None
    owner_id: str | None
    options: TranscribeOptions | None
    stages: tuple[StageRequest, ...]
    transcript_id: str | None = None
    parent_version: int | None = None

    @classmethod
    def of(cls, job: Job) -> _Work:
        values = dict(job.options)
        stages = tuple(StageRequest.from_dict(v) for v in values.pop(STAGES_KEY, ()))
        parent = values.pop(PARENT_KEY, None)
        options = TranscribeOptions(**values) if job.kind == jobs.TRANSCRIBE else None
        return cls(job.source, job.source_kind, job.media_id, job.owner_id, options, stages,
                   job.transcript_id, parent)  # fmt: skip


async def run_transcribe(rt: Runtime, delivery: Delivery, job_id: str) -> Job | None:
    """Run one transcribe job to its end. None when the job was not ours to run (finished,
    cancelled, or held by a live worker): redelivery is a no-op. Webhook deliveries for the
    outcome are created with it and enqueued after it is committed."""
    return await _run_job(rt, delivery, job_id, _transcribe)


async def run_refine(rt: Runtime, delivery: Delivery, job_id: str) -> Job | None:
    """Run one refine job (stages on a stored transcript version), like a transcribe job."""
    return await _run_job(rt, delivery, job_id, _refine)


Body = Callable[[Runtime, "Lease", _Work], Awaitable[Job]]


async def _run_job(rt: Runtime, delivery: Delivery, job_id: str, body: Body) -> Job | None:
    owner = jobs.this_owner()
    async with rt.db.session() as s:
        if not await jobs.claim(s, job_id, owner, rt.settings.lease_seconds):
            return None
        job = await jobs.get(s, job_id)
        work, attempts = _Work.of(job), job.attempts
    deadline = time.monotonic() + rt.settings.job_time_limit_seconds
    lease = Lease(rt, job_id, owner, work.source, deadline)
    try:
        return await _run(rt, lease, work, attempts, body)
    finally:
        if lease.followups:
            await anyio.to_thread.run_sync(delivery.enqueue, lease.followups)


async def _run(rt: Runtime, lease: Lease, work: _Work, attempts: int, body: Body) -> Job | None:
    try:
        return await _with_lease(lease, body(rt, lease, work))
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
    rt: Runtime, lease: Lease, media_id: str, transcript_id: str, version: int, cached: bool
) -> Job:
    async with rt.db.session() as s:
        job = await jobs.succeed(
            s, lease.job_id, lease.owner, media_id, transcript_id, cached, version
        )
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
    assert work.options is not None
    lease.report("probing", 0.0)
    media, probed = await _media(rt, lease, work)
    steps = _Steps(lease, 1 + len(work.stages))
    async with _MediaFile(rt, media, probed, work.source) as file:
        async with rt.db.session() as s:
            cached = await transcripts.find_cached(s, media.id, work.options)
        if cached is not None:
            transcript_id, created = cached.id, False
            steps.next("cached")
        else:
            stored = await file.probe()
            started = _Clock()
            document = await _infer(rt, steps.next("transcribing"), stored, work.options)
            async with rt.db.session() as s:
                # Another worker may have finished the same recipe meanwhile: keep theirs.
                cost = started.cost(rt.settings.cpu_hour_usd)
                transcript, created = await transcripts.save_basic(
                    s, media, work.options, document, cost
                )
                transcript_id = transcript.id
                if created:
                    lease.followups += await events.version_created(
                        s, work.owner_id, transcript_id, 1, lease.job_id
                    )
        version, made = await _stages(rt, lease, work, file, transcript_id, 1, steps)
    return await _succeed(rt, lease, media.id, transcript_id, version, not (created or made))


async def _refine(rt: Runtime, lease: Lease, work: _Work) -> Job:
    assert work.transcript_id is not None
    assert work.parent_version is not None
    lease.report("probing", 0.0)
    media, _probed = await _media(rt, lease, work)
    steps = _Steps(lease, len(work.stages))
    async with _MediaFile(rt, media, None, work.source) as file:
        version, made = await _stages(
            rt, lease, work, file, work.transcript_id, work.parent_version, steps
        )
    return await _succeed(rt, lease, media.id, work.transcript_id, version, not made)


async def _stages(
    rt: Runtime,
    lease: Lease,
    work: _Work,
    file: _MediaFile,
    transcript_id: str,
    parent: int,
    steps: _Steps,
) -> tuple[int, bool]:
    """Run ``work.stages`` in order from version ``parent``, each on the previous one's output;
    a stage already stored on that parent with the same recipe is reused. Returns the last
    version and whether any was made now."""
    made = False
    for request in work.stages:
        report = steps.next(request.stage)
        async with rt.db.session() as s:
            existing = await transcripts.find_stage(s, transcript_id, parent, request)
            if existing is None:
                document = (await transcripts.get_transcript(s, transcript_id, parent)).document
        if existing is not None:
            parent = existing.version
            continue
        stored = await file.probe()
        llm = None
        if stages.uses_llm(request):  # its budget is what the transcript has not spent yet
            async with rt.db.session() as s:
                spent = await transcripts.llm_spent(s, transcript_id)
            llm = stages.llm_session(rt.settings, request, spent)
        started = _Clock()
        transcriber = transcriber_for(rt.settings)
        run = functools.partial(
            stages.run_stage, transcriber, request, stored, document, report, llm=llm
        )
        refined = await anyio.to_thread.run_sync(run)
        cost = started.cost(rt.settings.cpu_hour_usd, llm.meter if llm is not None else None)
        async with rt.db.session() as s:
            row, created = await transcripts.save_stage(
                s, transcript_id, parent, request, refined, cost
            )
            if created:
                lease.followups += await events.version_created(
                    s, work.owner_id, transcript_id, row.version, lease.job_id
                )
        made = made or created
        parent = row.version
    return parent, made


@dataclasses.dataclass
class _Steps:
    """Splits a job's progress evenly between its steps (the transcription, each stage)."""

    lease: Lease
    count: int
    done: int = -1

    def next(self, stage: str) -> Callable[[float], None]:
        self.done += 1
        base, share = self.done / max(self.count, 1), 1 / max(self.count, 1)
        self.lease.report(stage, base)

        def report(fraction: float) -> None:
            self.lease.report(stage, min(base + share * fraction, _BEFORE_DONE))

        return report


class _Clock:
    """Wall and process CPU seconds since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.monotonic(), time.process_time()

    def cost(self, cpu_hour_usd: float, meter: Meter | None = None) -> transcripts.Cost:
        """What it took, priced: CPU seconds at ``cpu_hour_usd``, and the LLM's ``meter``."""
        cpu = time.process_time() - self.cpu
        return transcripts.Cost(
            wall_seconds=time.monotonic() - self.wall,
            cpu_seconds=cpu,
            compute_usd=cpu * cpu_hour_usd / 3600,
            llm_usd=meter.spent_usd if meter is not None else None,
            prompt_tokens=meter.usage.prompt_tokens if meter is not None else None,
            completion_tokens=meter.usage.completion_tokens if meter is not None else None,
        )


class _MediaFile:
    """The job's media as a local probed file, fetched (and probed) the first time it is used:
    a job whose results are all stored already reads nothing."""

    def __init__(self, rt: Runtime, media: Media, probed: MediaProbe | None, label: str) -> None:
        self._rt, self._media, self._probed, self._label = rt, media, probed, label
        self._files = AsyncExitStack()
        self._stored: MediaProbe | None = None

    async def __aenter__(self) -> _MediaFile:
        return self

    async def probe(self) -> MediaProbe:
        if self._stored is not None:
            return self._stored
        path = await self._files.enter_async_context(
            local_copy(self._rt.storage, self._media.storage_key)
        )
        probed = self._probed
        if probed is None:
            lim = Limits.of(self._rt.settings)
            probed = await anyio.to_thread.run_sync(
                lambda: probe(path, max_bytes=lim.max_bytes, max_duration=lim.max_duration)
            )
        self._stored = dataclasses.replace(probed, path=path, label=self._label)
        return self._stored

    async def __aexit__(self, *exc: object) -> None:
        await self._files.aclose()


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
    rt: Runtime, report: Callable[[float], None], media: MediaProbe, options: TranscribeOptions
) -> TranscriptDocument:
    transcriber = transcriber_for(rt.settings)
    return await anyio.to_thread.run_sync(transcriber.transcribe, media, options, report)
