"""The change feed on a real database: one poll serves every socket, and a socket that does not
read is dropped without holding up the others."""

from __future__ import annotations

import json

import anyio
import pytest

from trax.jobs import service as jobs
from trax.notifications.feed import ChangeFeed, TooManySocketsError
from trax.runtime import Runtime
from trax.users import service as users

pytestmark = pytest.mark.anyio


async def add_jobs(rt: Runtime, owner_id: str, count: int) -> list[str]:
    async with rt.db.session() as s:
        made = [
            await jobs.create(s, jobs.TRANSCRIBE, f"/audio/{n}.wav", {}, owner_id)
            for n in range(count)
        ]
        return [j.id for j in made]


async def test_a_socket_that_does_not_read_is_dropped_not_waited_for(runtime: Runtime) -> None:
    async with runtime.db.session() as s:
        ada = (await users.create_user(s, "ada@example.com")).id
        grace = (await users.create_user(s, "grace@example.com")).id
    feed = ChangeFeed(runtime, max_per_owner=2, poll_seconds=0.05, buffer=2)
    made: list[str] = []
    heard: list[str] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(feed.run)
        async with feed.subscribe(ada) as slow, feed.subscribe(ada) as reader:
            with pytest.raises(TooManySocketsError, match="at most 2"):
                async with feed.subscribe(ada):
                    pass
            async with feed.subscribe(grace) as other:
                for _ in range(5):  # one change at a time: the reader keeps up, slow does not
                    made += await add_jobs(runtime, ada, 1)
                    with anyio.fail_after(10):
                        heard.append(await reader.messages.receive())
                (graces,) = await add_jobs(runtime, grace, 1)
                with anyio.fail_after(10):
                    for_grace = await other.messages.receive()
            assert slow.dropped
            assert len([m async for m in slow.messages]) == 2  # its buffer, then the end
        tg.cancel_scope.cancel()
    assert [json.loads(m)["job"]["id"] for m in heard] == made
    assert {json.loads(m)["type"] for m in heard} == {"job.progress"}
    assert json.loads(for_grace)["job"]["id"] == graces  # each user hears only their own jobs
    assert not reader.dropped
    assert feed.polls > 0
