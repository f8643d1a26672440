"""Deleting media while another owner records the same bytes: nobody loses their file."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa

from trax.media import deletion
from trax.media import service as media_service
from trax.media.models import Media
from trax.runtime import Runtime
from trax.unit_of_work import JobRef, unit_of_work
from trax.users import service as users


class _Nowhere:
    def enqueue(self, jobs: Sequence[JobRef]) -> None:
        pass


@pytest.mark.anyio
async def test_a_deletion_waits_for_a_concurrent_record_of_the_same_bytes(
    runtime: Runtime, media: Path, tmp_path: Path
) -> None:
    nowhere = _Nowhere()
    copies = []
    for who in ("alice", "bob"):
        (tmp_path / who).mkdir()
        copies.append(tmp_path / who / "jfk.flac")
        shutil.copyfile(media / "jfk.flac", copies[-1])
    async with unit_of_work(runtime.db, nowhere) as uow:
        alice = await users.create_user(uow.session, "alice@example.com")
        bob = await users.create_user(uow.session, "bob@example.com")
        staged = await media_service.stage_received(runtime, copies[0])
        mine = await media_service.ingest_received(uow.session, runtime.storage, staged,
                                                   alice.id, None)  # fmt: skip
    key = mine.storage_key

    # Bob's upload of the same bytes is stored and being recorded, not yet committed ...
    bobs_staged = await media_service.stage_received(runtime, copies[1])
    bob_work = unit_of_work(runtime.db, nowhere)
    bob_uow = await bob_work.__aenter__()
    await media_service.ingest_received(bob_uow.session, runtime.storage, bobs_staged, bob.id,
                                        None)  # fmt: skip
    # ... when Alice deletes hers: the deletion must not decide before Bob's row is visible.
    deleted = anyio.Event()

    async def alice_deletes() -> None:
        async with unit_of_work(runtime.db, nowhere) as uow:
            await deletion.delete_media(uow, runtime.storage, mine.id, alice.id)
        deleted.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(alice_deletes)
        with anyio.move_on_after(2):  # without the lock, Alice finishes well within this
            await deleted.wait()
        await bob_work.__aexit__(None, None, None)  # Bob commits
    assert deleted.is_set()
    assert runtime.storage.exists(key), "Bob's bytes were removed by Alice's deletion"
    async with runtime.db.session() as s:
        bobs = (await s.scalars(sa.select(Media).where(Media.owner_id == bob.id))).one()
    async with unit_of_work(runtime.db, nowhere) as uow:
        await deletion.delete_media(uow, runtime.storage, bobs.id, bob.id)
    assert not runtime.storage.exists(key), "the last owner's deletion removes the bytes"
