"""A running job's row shows how far it has got, so the API and the CLI can show it."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from trax.actors import job_runtime
from trax.config import Settings
from trax.engine.options import TranscribeOptions
from trax.jobs import batch
from trax.jobs import service as jobs
from trax.jobs.models import JobStatus
from trax.runtime import Runtime

TINY = TranscribeOptions(model="tiny.en")


@pytest.mark.anyio
async def test_a_running_job_row_shows_partial_progress(
    settings: Settings, runtime: Runtime, derived: dict[str, Path]
) -> None:
    """One decode window of nearly two minutes, a chunk per batch: the row moves mid-window."""
    small_batches = settings.model_copy(update={"batch_size": 1})
    async with job_runtime(small_batches) as (rt, queue):
        (job,) = await batch.submit(rt, queue, [derived["long"]], TINY)
        with anyio.fail_after(90):
            while True:
                async with rt.db.session() as s:
                    row = await jobs.get(s, job.id)
                assert not row.status.finished, f"finished before any progress was seen: {row}"
                if 0 < row.progress < 1:
                    break
                await anyio.sleep(0.05)
        assert row.status is JobStatus.RUNNING
        assert row.stage == "transcribing"
        async with rt.db.session() as s:  # no need to wait for the rest
            await jobs.cancel(s, job.id)
        with anyio.fail_after(60):
            (done,) = await batch.wait(rt, [job.id])
    assert done.status is JobStatus.CANCELLED
