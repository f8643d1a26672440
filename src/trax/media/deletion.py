"""Deleting media: the use case behind ``DELETE /api/v1/media/{id}`` and ``trax delete``.

Apart from :mod:`trax.media.service` because it reaches into jobs and, through their events,
webhooks (the library commands import the media service and stay free of the web stack).
"""

from __future__ import annotations

import anyio.to_thread

from trax.jobs import control
from trax.media import repository
from trax.media.service import get_media
from trax.renders import service as renders
from trax.storage import Storage
from trax.unit_of_work import UnitOfWork


async def delete_media(
    uow: UnitOfWork, storage: Storage, media_id: str, owner_id: str | None
) -> None:
    """Delete the media row (its transcripts and their renders go with it), fail its unfinished
    jobs, and remove the stored bytes once no media row uses them, and the renders' bytes.

    The decision is made under the stored object's row lock, which :func:`record` takes too: an
    upload of the same bytes by another owner either committed first (its row is seen and the
    bytes stay) or comes after (and stores the bytes again). The bytes are removed before the
    commit, under that lock; if the commit then fails, only this media's own bytes are gone."""
    media = await get_media(uow.session, media_id, owner_id)
    await control.media_deleted(uow, media)
    key = media.storage_key
    render_keys = await renders.keys_of_media(uow.session, media.id)
    await repository.lock_object(uow.session, key)
    await repository.delete(uow.session, media)
    await renders.remove_unused(uow.session, storage, render_keys)
    if not await repository.storage_key_in_use(uow.session, key):
        await repository.forget_object(uow.session, key)
        await anyio.to_thread.run_sync(storage.delete, key)
