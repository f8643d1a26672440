"""The actors of every job kind, registered on a queue: the one place above the domains that
knows them all. :mod:`trax.queue` stays generic; each kind's retries and time limit sit next to
its code (``transcripts/tasks.py``, ``webhooks/tasks.py``).

:func:`job_runtime` is what a process that submits or runs jobs opens: the database, storage and
broker, plus, in the embedded mode, the in-process worker pool and (for long-lived processes)
the periodic sweep that re-delivers lost jobs.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread
import structlog
from dramatiq.middleware import Middleware

from trax import executor
from trax.config import Settings
from trax.jobs.recovery import sweep
from trax.pools import embedded_pools
from trax.queue import ActorSpec, Queue
from trax.renders.tasks import render_actor
from trax.runtime import Runtime, open_runtime
from trax.transcripts.tasks import refine_actor, transcribe_actor
from trax.webhooks.tasks import delivery_actor

log = structlog.get_logger(__name__)


def actor_specs(settings: Settings) -> list[ActorSpec]:
    return [
        transcribe_actor(settings),
        refine_actor(settings),
        render_actor(settings),
        delivery_actor(settings),
    ]


def build_queue(settings: Settings, extra: Iterable[Middleware] = ()) -> Queue:
    """The broker with every job kind's actor."""
    return Queue(settings, actor_specs(settings), extra)


@asynccontextmanager
async def job_runtime(
    settings: Settings, *, sweeping: bool = False
) -> AsyncIterator[tuple[Runtime, Queue]]:
    """The database and the broker; in embedded mode also an in-process worker pool that runs
    the jobs this process submits (one pool for transcriptions, one for webhook deliveries:
    :mod:`trax.pools`), stopped on the way out, and with ``sweeping`` the periodic
    sweep (the server's; ``trax worker`` processes have the Sweeper middleware)."""
    queue = build_queue(settings)
    pools = embedded_pools(queue, settings) if queue.embedded else []
    async with open_runtime(settings) as rt:
        for pool in pools:
            pool.start()
        try:
            if pools and sweeping:
                async with _sweeping(rt, queue):
                    yield rt, queue
            else:
                yield rt, queue
        finally:
            for pool in pools:
                await anyio.to_thread.run_sync(functools.partial(pool.stop, timeout=1000))
            if pools:
                executor.shutdown()


@asynccontextmanager
async def _sweeping(rt: Runtime, queue: Queue) -> AsyncIterator[None]:
    async with anyio.create_task_group() as tg:
        tg.start_soon(_sweep_forever, rt, queue)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


async def _sweep_forever(rt: Runtime, queue: Queue) -> None:
    interval = rt.settings.sweep_interval_seconds
    while True:
        try:
            found = await sweep(rt, queue)
            if found:
                log.info("re-enqueued lost jobs", count=len(found))
        except Exception:
            log.exception("sweep failed; will try again")
        await anyio.sleep(interval)
