"""Which threads run which jobs: transcriptions and webhook deliveries on pools of their own.

A delivery holds its thread until the receiver answers or the attempt's deadline passes, so slow
(or hostile) receivers could take every thread of a shared pool: forty test pings to a receiver
dripping a byte every two seconds doubled another user's transcription time. Each process
therefore runs two Dramatiq workers on its one broker: ``TRAX_WORKER_THREADS`` threads on the
``transcribe``, ``refine`` and ``render`` queues, ``TRAX_WEBHOOK_WORKER_THREADS`` threads on
``webhook``.

Embedded mode builds both with :func:`embedded_pools`. A ``trax worker`` process is started by
Dramatiq's command line on those two queues only (:data:`MAIN_QUEUES`); the
:class:`WebhookPool` middleware starts the webhook pool when that worker boots and stops it
with it.
"""

from __future__ import annotations

import logging
from typing import Final

import dramatiq
from dramatiq.middleware import Middleware

from trax.config import Settings
from trax.jobs.service import REFINE, RENDER, TRANSCRIBE, WEBHOOK
from trax.queue import Queue

#: The queues of a process's main worker; webhooks have their own pool.
MAIN_QUEUES: Final = (TRANSCRIBE, REFINE, RENDER)
WEBHOOK_QUEUES: Final = (WEBHOOK,)
#: Dramatiq warns when a second worker on a broker adds its (per-worker) middleware; two
#: workers with disjoint queues are what we want, so that warning is expected.
_SECOND_WORKER = "You're adding a middleware of the same type twice"
_POOL_TIMEOUT_MS = 100


def _expected(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith(_SECOND_WORKER)


def embedded_pools(queue: Queue, settings: Settings) -> list[dramatiq.Worker]:
    """The in-process pools of embedded mode (not started): transcription, then webhooks."""
    queue.broker.logger.addFilter(_expected)
    return [
        queue.worker(settings.worker_threads, MAIN_QUEUES),
        queue.worker(settings.webhook_worker_threads, WEBHOOK_QUEUES),
    ]


class WebhookPool(Middleware):
    """In a ``trax worker`` process: the webhook pool, started and stopped with the process's
    main worker (which consumes :data:`MAIN_QUEUES` only)."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.pool: dramatiq.Worker | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.pool is not None:
            return  # the webhook pool's own boot
        broker.logger.addFilter(_expected)
        self.pool = dramatiq.Worker(
            broker,
            queues=set(WEBHOOK_QUEUES),
            worker_threads=self.threads,
            worker_timeout=_POOL_TIMEOUT_MS,
        )
        self.pool.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self.pool is None or worker is self.pool:
            return
        pool, self.pool = self.pool, None
        pool.stop()
