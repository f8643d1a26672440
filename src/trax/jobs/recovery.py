"""Finding work no one is doing and handing it to the broker again.

A job is lost when it is queued but no broker holds its message (the broker lost it, or the
process died between commit and enqueue), or when it is running but its lease expired or its
owner process is gone. Re-enqueueing is always safe: the claim lets only one delivery run.

Only the sweep (and the operator's ``trax jobs resume`` / a re-run of a killed batch) looks at the
broker's backlog; requests never do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import anyio.to_thread

from trax.jobs import service as jobs
from trax.runtime import Runtime
from trax.unit_of_work import Delivery, send

#: Queued jobs younger than this are left alone: their enqueue may still be on its way.
SWEEP_GRACE_SECONDS = 10.0


class Reconciler(Delivery, Protocol):
    """A broker that can also say which job ids it holds (:class:`trax.queue.Queue`)."""

    def held_job_ids(self) -> set[str]: ...


async def recover(
    rt: Runtime, queue: Reconciler, *, grace_seconds: float, only: Sequence[str] | None = None
) -> list[str]:
    """Enqueue every lost job (of ``only``, if given); returns their ids."""
    held = await anyio.to_thread.run_sync(queue.held_job_ids)
    async with rt.db.session() as s:
        lost = await jobs.recoverable(s, held, grace_seconds, only)
        await jobs.mark_enqueued(s, lost)
        refs = [jobs.JobRef.of(j) for j in lost]
    await send(queue, refs)  # after the commit
    return [r.id for r in refs]


async def sweep(rt: Runtime, queue: Reconciler) -> list[str]:
    """The periodic sweep of a worker process over every job."""
    return await recover(rt, queue, grace_seconds=SWEEP_GRACE_SECONDS)
