"""Delivery of job ids to workers with Dramatiq. The database row is the truth; this only delivers.

Embedded default: a :class:`~dramatiq.brokers.stub.StubBroker` and an in-process worker pool, no
Redis needed. With ``TRAX_BROKER_URL=redis://…``: a Redis broker (keys under
``TRAX_QUEUE_NAMESPACE``) consumed by ``trax worker`` processes on any number of hosts.

Messages carry only a job id and are sent after the transaction that created the job committed.
A message may be delivered twice (a retry, a sweep after a crash); the job's claim makes the
second delivery a no-op.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit

from trax import workfiles
from trax.config import Settings
from trax.executor import executor_for
from trax.jobs.service import TRANSCRIBE, WEBHOOK, Delivery, JobRef
from trax.runtime import Runtime
from trax.transcripts.tasks import run_transcribe
from trax.webhooks.tasks import run_delivery

log = structlog.get_logger(__name__)
_DELAY_SUFFIX = ".DQ"
#: Backoff between retries of a transient failure (Dramatiq adds jitter).
MIN_BACKOFF_MS = 2_000
MAX_BACKOFF_MS = 120_000
#: Dramatiq's own time limit is a backstop above the job's cooperative one.
_TIME_LIMIT_MARGIN_S = 300


#: A job kind's runner: ``run(runtime, delivery, job_id)``, on the process's event loop.
Runner = Callable[[Runtime, Delivery, str], Awaitable[object]]


def build_broker(settings: Settings, extra: Iterable[Middleware] = ()) -> dramatiq.Broker:
    middleware = [TimeLimit(), ShutdownNotifications(), Retries(), *extra]
    if settings.broker_url is None:
        return StubBroker(middleware=middleware)
    from dramatiq.brokers.redis import RedisBroker

    return RedisBroker(  # type: ignore[no-untyped-call]
        url=settings.broker_url,
        namespace=settings.queue_namespace,
        middleware=middleware,
        heartbeat_timeout=int(settings.lease_seconds * 1000),
    )


class Queue:
    """The process's broker and one actor per job kind."""

    def __init__(self, settings: Settings, extra: Iterable[Middleware] = ()) -> None:
        self.settings = settings
        self.broker = build_broker(settings, extra)
        self.actors: dict[str, dramatiq.Actor[[str], None]] = {}
        self._add(
            TRANSCRIBE,
            run_transcribe,
            retries=settings.job_max_attempts - 1,
            backoff_ms=(MIN_BACKOFF_MS, MAX_BACKOFF_MS),
            time_limit_s=settings.job_time_limit_seconds + _TIME_LIMIT_MARGIN_S,
        )
        self._add(
            WEBHOOK,
            run_delivery,
            retries=settings.webhook_max_attempts - 1,
            backoff_ms=(
                int(settings.webhook_min_backoff_seconds * 1000),
                int(settings.webhook_max_backoff_seconds * 1000),
            ),
            time_limit_s=settings.outbound_timeout_seconds * 4 + _TIME_LIMIT_MARGIN_S,
        )

    def _add(
        self,
        kind: str,
        run: Runner,
        *,
        retries: int,
        backoff_ms: tuple[int, int],
        time_limit_s: float,
    ) -> None:
        settings = self.settings

        def perform(job_id: str) -> None:
            """Actor: hand the job to this process's event loop (one per process)."""
            executor_for(settings).call(run, self, job_id)

        self.actors[kind] = dramatiq.actor(
            broker=self.broker,
            actor_name=kind,
            queue_name=kind,
            time_limit=int(time_limit_s * 1000),
            max_retries=retries,
            min_backoff=backoff_ms[0],
            max_backoff=backoff_ms[1],
            retry_when=lambda attempt, _exc: attempt < retries,
        )(perform)

    @property
    def embedded(self) -> bool:
        return isinstance(self.broker, StubBroker)

    def enqueue(self, jobs: Sequence[JobRef]) -> None:
        for job in jobs:
            self.actors[job.kind].send(job.id)

    def held_job_ids(self) -> set[str]:
        """Ids of the jobs whose messages the broker holds (waiting, delayed or in flight)."""
        names = [n for kind in self.actors for n in (kind, kind + _DELAY_SUFFIX)]
        if isinstance(self.broker, StubBroker):
            raw: list[bytes] = [m for n in names for m in list(self.broker.queues[n].queue)]
        else:
            client: Any = self.broker.client  # type: ignore[attr-defined]
            ns = self.settings.queue_namespace
            raw = [m for n in names for m in client.hvals(f"{ns}:{n}.msgs")]
        return {str(dramatiq.Message.decode(m).args[0]) for m in raw}

    def reachable(self) -> bool:
        """Whether the broker answers (always, for the in-process one)."""
        if isinstance(self.broker, StubBroker):
            return True
        client: Any = self.broker.client  # type: ignore[attr-defined]
        try:
            return bool(client.ping())
        except OSError:
            return False
        except Exception as exc:  # redis-py's ConnectionError is not an OSError
            log.warning("broker unreachable", error=str(exc))
            return False

    def worker(self, threads: int) -> dramatiq.Worker:
        """An in-process worker pool on this broker (embedded mode)."""
        return dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=100)


SweepFn = Callable[[Runtime, "Queue"], Awaitable[list[str]]]


class Sweeper(Middleware):
    """Runs ``sweep`` (:func:`trax.jobs.recovery.sweep`) periodically in each worker process."""

    def __init__(self, settings: Settings, sweep: SweepFn) -> None:
        self.settings = settings
        self.sweep = sweep
        self.queue: Queue | None = None
        self._stop = threading.Event()

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        threading.Thread(target=self._loop, name="trax-sweeper", daemon=True).start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _loop(self) -> None:
        interval = self.settings.sweep_interval_seconds
        while not self._stop.wait(interval * random.uniform(0.8, 1.2)):
            workfiles.sweep_safely(self.settings)
            if self.queue is None:
                continue
            try:
                found = executor_for(self.settings).call(self.sweep, self.queue)
                if found:
                    log.info("re-enqueued lost jobs", count=len(found))
            except Exception:
                log.exception("sweep failed; will try again")
