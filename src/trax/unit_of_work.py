"""A unit of work: one database transaction, and the broker messages it produced, sent only after
it committed.

A worker must never receive the id of a row that is not visible yet, and a message must never be
sent for work that was rolled back. So services never send messages: the use case hands the jobs
it created or re-queued to :meth:`UnitOfWork.enqueue`, which keeps them in an outbox, and
:func:`unit_of_work` commits, then sends the outbox. If sending fails after the commit, the rows
are still queued and the periodic sweep (:mod:`trax.jobs.recovery`) delivers them: the row is
the truth, the broker only delivers.

Edges (an HTTP request, a CLI command, an actor) open one; services take it (or its session) and
never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import anyio.to_thread
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from trax.db import Database

log = structlog.get_logger(__name__)


class Identified(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def id(self) -> str: ...


class JobRef(NamedTuple):
    """What a broker message needs: the job's kind (which actor) and its id."""

    kind: str
    id: str

    @classmethod
    def of(cls, job: Identified) -> JobRef:
        return cls(job.kind, job.id)


class Delivery(Protocol):
    """What sends messages (:class:`trax.queue.Queue`)."""

    def enqueue(self, jobs: Sequence[JobRef]) -> None: ...


@dataclass
class UnitOfWork:
    """One transaction (``session``) and the messages to send once it has committed."""

    session: AsyncSession
    outbox: list[JobRef] = field(default_factory=list)

    def enqueue(self, jobs: Iterable[Identified]) -> None:
        """Deliver these jobs once this unit of work has committed."""
        self.outbox.extend(JobRef.of(j) for j in jobs)


async def send(delivery: Delivery, refs: Sequence[JobRef]) -> None:
    """Send messages for committed jobs. A failure is logged, not raised: the jobs are durable
    and the sweep re-delivers queued jobs that no broker holds."""
    if not refs:
        return
    try:
        await anyio.to_thread.run_sync(delivery.enqueue, refs)
    except Exception:  # the broker is down: the sweep will deliver them
        log.exception("enqueue after commit failed; the sweep will deliver", jobs=len(refs))


@asynccontextmanager
async def unit_of_work(db: Database, delivery: Delivery) -> AsyncIterator[UnitOfWork]:
    """Open a unit of work; on leaving, commit (or roll back) and then send its outbox."""
    async with db.session() as session:
        uow = UnitOfWork(session)
        yield uow
    await send(delivery, uow.outbox)  # after the commit
