"""A batch of inputs: one job per input, committed, then delivered; and waiting for the end.

Each input fails or succeeds on its own; the outcome of every input is on its job row. Running
the same batch again reuses its unfinished jobs (resume) and finds finished inputs in the
transcript cache.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread

from trax import executor
from trax.config import Settings
from trax.engine.options import TranscribeOptions
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.jobs.recovery import recover
from trax.media.models import Media
from trax.pools import embedded_pools
from trax.queue import Queue
from trax.runtime import Runtime, open_runtime

POLL_SECONDS = 0.5

#: Called with the current rows of the batch each time they are read.
WatchFn = Callable[[list[Job]], None]


@asynccontextmanager
async def job_runtime(settings: Settings) -> AsyncIterator[tuple[Runtime, Queue]]:
    """The database and the broker; in embedded mode also the in-process worker pools (one for
    transcriptions, one for webhook deliveries) that run the jobs this process submits, stopped
    on the way out."""
    queue = Queue(settings)
    pools = embedded_pools(queue, settings) if queue.embedded else []
    async with open_runtime(settings) as rt:
        for pool in pools:
            pool.start()
        try:
            yield rt, queue
        finally:
            for pool in pools:
                await anyio.to_thread.run_sync(functools.partial(pool.stop, timeout=1000))
            if pools:
                executor.shutdown()


async def submit(
    rt: Runtime, queue: jobs.Delivery, inputs: Sequence[Path], options: TranscribeOptions
) -> list[Job]:
    """Record one job per input (reusing unfinished ones), commit, then enqueue what needs it."""
    sources = [str(p.absolute()) for p in inputs]
    async with rt.db.session() as s:
        batch = await jobs.submit(s, jobs.TRANSCRIBE, sources, options.as_dict())
    await recover(rt, queue, grace_seconds=0, only=[j.id for j in batch])
    return batch


async def submit_media(
    rt: Runtime, queue: jobs.Delivery, media: Media, options: TranscribeOptions, owner_id: str
) -> str:
    """Record a transcribe job on stored media (reusing an unfinished one), commit, enqueue it;
    returns its id."""
    async with rt.db.session() as s:
        job = await jobs.submit_for_media(s, jobs.TRANSCRIBE, media, options.as_dict(), owner_id)
        job_id = job.id
    await recover(rt, queue, grace_seconds=0, only=[job_id])
    return job_id


async def wait(rt: Runtime, job_ids: Sequence[str], on_update: WatchFn | None = None) -> list[Job]:
    """Poll the rows until every job has finished; returns them in ``job_ids`` order."""
    while True:
        async with rt.db.session() as s:
            current = await jobs.get_many(s, job_ids)
        if on_update:
            on_update(current)
        if all(j.status.finished for j in current):
            return current
        await anyio.sleep(POLL_SECONDS)
