"""A batch of inputs: one job per input, created in one transaction, then run to the end.

Each input fails or succeeds on its own; the outcome of every input is on its job row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from trax.engine.options import TranscribeOptions
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.runtime import Runtime
from trax.transcripts.tasks import run_transcribe

#: Called with (job, stage, fraction done) as work proceeds, and with (finished job, FINISHED, 1.0)
#: once the job has ended, successfully or not.
BatchProgressFn = Callable[[Job, str, float], None]
FINISHED = "finished"


async def submit(rt: Runtime, inputs: Sequence[Path], options: TranscribeOptions) -> list[Job]:
    """Record one queued transcribe job per input (committed before any runs)."""
    sources = [str(p.absolute()) for p in inputs]
    async with rt.db.session() as s:
        return await jobs.create_batch(s, jobs.TRANSCRIBE, sources, options.as_dict())


async def run_all(
    rt: Runtime, batch: Sequence[Job], on_progress: BatchProgressFn | None = None
) -> list[Job]:
    """Run every job of ``batch`` in order; returns the finished rows."""
    done: list[Job] = []
    for job in batch:

        def report(stage: str, fraction: float, job: Job = job) -> None:
            if on_progress:
                on_progress(job, stage, fraction)

        result = await run_transcribe(rt, job.id, report)
        report(FINISHED, 1.0, result)
        done.append(result)
    return done
