"""A batch of inputs from the CLI: one job per input, committed, then delivered; and waiting for
the end.

Each input fails or succeeds on its own; the outcome of every input is on its job row. Running
the same batch again reuses its unfinished jobs (resume) and finds finished inputs in the
transcript cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import anyio

from trax.engine.options import TranscribeOptions
from trax.jobs import control
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.jobs.recovery import Reconciler, recover
from trax.runtime import Runtime
from trax.transcripts.stages import StageRequest
from trax.unit_of_work import unit_of_work

POLL_SECONDS = 0.5

#: Called with the current rows of the batch each time they are read.
WatchFn = Callable[[list[Job]], None]


async def submit(
    rt: Runtime,
    queue: Reconciler,
    inputs: Sequence[Path],
    options: TranscribeOptions,
    stages: Sequence[StageRequest] = (),
) -> list[Job]:
    """Record one job per input (reusing unfinished ones), commit, then enqueue the new ones.
    Reused jobs that a killed run left behind (no broker holds them, or their worker is gone)
    are delivered again: this is how re-running a batch resumes it."""
    async with unit_of_work(rt.db, queue) as uow:
        batch, reused = await control.submit_paths(uow, inputs, options, stages)
    if reused:
        await recover(rt, queue, grace_seconds=0, only=[j.id for j in reused])
    return batch


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
