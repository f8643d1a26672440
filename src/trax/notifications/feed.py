"""One change feed per process for the live notifications of ``/api/v1/ws``.

Each socket used to poll the database itself, four times a second: a thousand idle sockets of
one user were four thousand queries a second, and every other user's requests queued behind them
on the event loop (8 ms became 1.2 s). Now one task per process reads the jobs changed since its
last look, over all owners, builds each message once and hands it to the sockets of the job's
owner. It polls only while someone listens.

Each socket has a bounded buffer: a client that does not read its messages is dropped when its
buffer is full (its socket closes with 1013), never waited for, so it cannot hold up the others.
A user may keep ``TRAX_WS_MAX_CONNECTIONS_PER_USER`` sockets open on each API process.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from trax import errors
from trax.db import utcnow
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.jobs.schemas import JobView
from trax.runtime import Runtime

log = structlog.get_logger(__name__)
POLL_SECONDS = 0.25
#: Messages a socket may fall behind before it is dropped.
BUFFER_MESSAGES = 100
TOO_MANY_SOCKETS = "too many WebSockets open for this user (at most {limit} per server)"


class TooManySocketsError(errors.TraxError):
    """The user already holds as many sockets as allowed on this process."""

    code = "too_many_sockets"
    http_status = 429


@dataclass(eq=False)
class Subscription:
    """One socket's messages (JSON text, in order); ends when the feed drops or stops it."""

    owner_id: str
    since: datetime
    messages: MemoryObjectReceiveStream[str]
    inbox: MemoryObjectSendStream[str] = field(repr=False)
    #: Whether the socket was dropped for not keeping up with its messages.
    dropped: bool = False

    def offer(self, message: str) -> None:
        """Hand over ``message`` without waiting: a full buffer drops the socket."""
        try:
            self.inbox.send_nowait(message)
        except anyio.WouldBlock:
            self.dropped = True
            self.inbox.close()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass  # the socket is leaving


class ChangeFeed:
    """Polls job changes for every subscribed socket of this process; see the module text."""

    def __init__(
        self,
        rt: Runtime,
        *,
        max_per_owner: int,
        poll_seconds: float = POLL_SECONDS,
        buffer: int = BUFFER_MESSAGES,
    ) -> None:
        self.rt = rt
        self.max_per_owner = max_per_owner
        self.poll_seconds = poll_seconds
        self.buffer = buffer
        #: Database polls made so far (one per interval while anyone listens).
        self.polls = 0
        self._owners: dict[str, set[Subscription]] = {}
        self._listening = anyio.Event()
        self._since = utcnow()
        self._sent: dict[str, datetime] = {}

    @asynccontextmanager
    async def subscribe(
        self, owner_id: str, since: datetime | None = None
    ) -> AsyncIterator[Subscription]:
        """The owner's job changes from ``since`` (default: now) on, while in the block. Raises
        :class:`TooManySocketsError` when the owner is at the limit.

        A socket passes the moment its client connected: a job that changed between the
        handshake and this call (already past the feed's cursor) is caught up here."""
        subscribers = self._owners.setdefault(owner_id, set())
        if len(subscribers) >= self.max_per_owner:
            raise TooManySocketsError(TOO_MANY_SOCKETS.format(limit=self.max_per_owner))
        send, receive = anyio.create_memory_object_stream[str](self.buffer)
        subscription = Subscription(owner_id, since or utcnow(), receive, send)
        subscribers.add(subscription)
        listening = self._listening.is_set()
        self._listening.set()
        try:
            if listening and subscription.since < self._since:
                await self._catch_up(subscription)
            with receive:
                yield subscription
        finally:
            send.close()
            subscribers.discard(subscription)
            if not subscribers:
                del self._owners[owner_id]

    async def run(self) -> None:
        """Poll while anyone listens, idle otherwise; until cancelled."""
        while True:
            if not self._owners:
                self._listening = anyio.Event()
                await self._listening.wait()
                # Changes from before the first subscriber joined concern no one.
                joined = [s.since for subs in self._owners.values() for s in subs]
                self._since = min(joined, default=utcnow())
                self._sent.clear()
            try:
                await self._poll()
            except Exception:  # the database may be back at the next look
                log.exception("change feed poll failed; will try again")
            await anyio.sleep(self.poll_seconds)

    async def _catch_up(self, subscription: Subscription) -> None:
        """Offer the changes the feed's cursor has already passed since ``subscription.since``."""
        cursor = self._since
        async with self.rt.db.session() as s:
            changed = await jobs.changed_since(s, subscription.owner_id, subscription.since)
        for job in changed:
            if job.updated_at < cursor:
                subscription.offer(_message(job))

    async def _poll(self) -> None:
        async with self.rt.db.session() as s:
            changed = await jobs.changed_since(s, None, self._since)
        self.polls += 1
        for job in changed:
            if self._sent.get(job.id) == job.updated_at:
                continue
            self._sent[job.id] = job.updated_at
            self._since = max(self._since, job.updated_at)
            wanted = self._owners.get(job.owner_id or "", set())
            subscribers = [s for s in wanted if job.updated_at >= s.since]
            if subscribers:
                message = _message(job)
                for subscription in subscribers:
                    subscription.offer(message)
        # Only rows changed at or after ``since`` come back: older entries can go.
        self._sent = {k: v for k, v in self._sent.items() if v >= self._since}

    def close(self) -> None:
        """End every subscription (shutdown): their sockets finish."""
        for subscribers in self._owners.values():
            for subscription in subscribers:
                subscription.inbox.close()


def _message(job: Job) -> str:
    """The message about ``job``, as ``WebSocket.send_json`` would write it."""
    kind = f"job.{job.status.value}" if job.status.finished else "job.progress"
    view = JobView.model_validate(job).model_dump(mode="json")
    return json.dumps({"type": kind, "job": view}, separators=(",", ":"), ensure_ascii=False)


@asynccontextmanager
async def running_feed(rt: Runtime) -> AsyncIterator[ChangeFeed]:
    """The process's feed, polling in the background until the block ends (app lifespan)."""
    feed = ChangeFeed(rt, max_per_owner=rt.settings.ws_max_connections_per_user)
    async with anyio.create_task_group() as tg:
        tg.start_soon(feed.run)
        try:
            yield feed
        finally:
            feed.close()
            tg.cancel_scope.cancel()
