"""Delivery of job ids to workers with Dramatiq. The database row is the truth; this only delivers.

Embedded default: a :class:`~dramatiq.brokers.stub.StubBroker` and an in-process worker pool, no
Redis needed. With ``TRAX_BROKER_URL=redis://…``: a Redis broker (keys under
``TRAX_QUEUE_NAMESPACE``) consumed by ``trax worker`` processes on any number of hosts.

Messages carry only a job id and are sent after the transaction that created the job committed
(:mod:`trax.unit_of_work`). A message may be delivered twice (a retry, a sweep after a crash); the
job's claim makes the second delivery a no-op.

This module is infrastructure: it knows no domain. Each job kind describes its actor with an
:class:`ActorSpec` next to its code (``transcripts/tasks.py``, ``webhooks/tasks.py``), and
:mod:`trax.actors` registers them.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dramatiq
import structlog
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware, Retries, ShutdownNotifications, TimeLimit

from trax import workfiles
from trax.config import Settings
from trax.executor import executor_for
from trax.runtime import Runtime
from trax.unit_of_work import Delivery, JobRef

log = structlog.get_logger(__name__)
#: Our own generator: the global one belongs to the application (and to test frameworks).
_JITTER = random.Random()
_DELAY_SUFFIX = ".DQ"
#: Dramatiq's own time limit is a backstop above the job's cooperative one.
TIME_LIMIT_MARGIN_S = 300


#: A job kind's runner: ``run(runtime, delivery, job_id)``, on the process's event loop.
Runner = Callable[[Runtime, Delivery, str], Awaitable[object]]


@dataclass(frozen=True)
class ActorSpec:
    """One job kind's actor: its runner, retries, backoff (ms, Dramatiq adds jitter) and the hard
    time limit (a backstop above the job's own cooperative limit)."""

    kind: str
    run: Runner
    retries: int
    backoff_ms: tuple[int, int]
    time_limit_s: float


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

    def __init__(
        self, settings: Settings, specs: Iterable[ActorSpec], extra: Iterable[Middleware] = ()
    ) -> None:
        self.settings = settings
        self.broker = build_broker(settings, extra)
        self.actors: dict[str, dramatiq.Actor[[str], None]] = {}
        for spec in specs:
            self._register(spec)

    def _register(self, spec: ActorSpec) -> None:
        settings, run, retries = self.settings, spec.run, spec.retries

        def perform(job_id: str) -> None:
            """Actor: hand the job to this process's event loop (one per process)."""
            executor_for(settings).call(run, self, job_id)

        self.actors[spec.kind] = dramatiq.actor(
            broker=self.broker,
            actor_name=spec.kind,
            queue_name=spec.kind,
            time_limit=int(spec.time_limit_s * 1000),
            max_retries=retries,
            min_backoff=spec.backoff_ms[0],
            max_backoff=spec.backoff_ms[1],
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

    def worker(self, threads: int, queues: Iterable[str] | None = None) -> dramatiq.Worker:
        """An in-process worker pool on this broker, consuming ``queues`` (default: all)."""
        return dramatiq.Worker(
            self.broker,
            queues=None if queues is None else set(queues),
            worker_threads=threads,
            worker_timeout=100,
        )


SweepFn = Callable[[Runtime, "Queue"], Awaitable[list[str]]]


class Sweeper(Middleware):
    """Runs ``sweep`` (:func:`trax.jobs.recovery.sweep`) periodically in each worker process."""

    def __init__(self, settings: Settings, sweep: SweepFn) -> None:
        self.settings = settings
        self.sweep = sweep
        self.queue: Queue | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        if self._thread is None:  # one sweeper per process, however many pools boot
            self._thread = threading.Thread(target=self._loop, name="trax-sweeper", daemon=True)
            self._thread.start()

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        self._stop.set()

    def _loop(self) -> None:
        interval = self.settings.sweep_interval_seconds
        while not self._stop.wait(interval * _JITTER.uniform(0.8, 1.2)):
            workfiles.sweep_safely(self.settings)
            if self.queue is None:
                continue
            try:
                found = executor_for(self.settings).call(self.sweep, self.queue)
                if found:
                    log.info("re-enqueued lost jobs", count=len(found))
            except Exception:
                log.exception("sweep failed; will try again")
