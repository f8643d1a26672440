"""Render rules and use cases: one validation of styles, a render job per request, the stored
renders of a transcript, and their bytes removed with their media.

The CLI and the API call :func:`submit_render` with their unit of work: the style is checked
(422 / exit 2 naming the option), the version looked up (404), and the job queued after the
commit. Identical requests share one unfinished job; a finished render of the same version and
resolved style is reused by the job without running FFmpeg again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy.ext.asyncio import AsyncSession

from trax import errors
from trax.captions.styles import DEFAULT_STYLE, RenderStyle, resolve_style
from trax.jobs import service as jobs
from trax.jobs.models import Job
from trax.media import service as media_service
from trax.renders import repository
from trax.renders.models import Render
from trax.renders.schemas import RenderView
from trax.storage import Storage
from trax.transcripts import service as transcripts
from trax.unit_of_work import UnitOfWork

RENDER_NOT_FOUND = "transcript {transcript_id} has no render {render_id!r}"
_VERSION, _PRESET, _STYLE = "version", "style", "render_style"


@dataclass(frozen=True)
class RenderRequest:
    """What a render job makes: ``version`` of its transcript in ``style`` (from ``preset``)."""

    version: int
    preset: str
    style: RenderStyle

    def as_options(self) -> dict[str, Any]:
        return {_VERSION: self.version, _PRESET: self.preset, _STYLE: self.style.as_dict()}

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> RenderRequest:
        values = dict(options[_STYLE])
        values["speaker_colours"] = tuple(values["speaker_colours"])
        return cls(int(options[_VERSION]), str(options[_PRESET]), RenderStyle(**values))

    @property
    def recipe_key(self) -> str:
        canonical = json.dumps(self.style.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def preset_name(name: str | None) -> str:
    return (name or DEFAULT_STYLE).strip().lower()


async def submit_render(
    uow: UnitOfWork,
    transcript_ref: str,
    version: int | None,
    style: str | None,
    overrides: Mapping[str, Any] | None = None,
    owner_id: str | None = None,
) -> Job:
    """A render job of ``version`` (default: the newest) of a transcript in ``style`` with
    ``overrides``. ``owner_id`` None is the operator, who may give any unique id prefix."""
    resolved = resolve_style(style, overrides)
    detail = await transcripts.get_transcript(uow.session, transcript_ref, version, owner_id)
    media = await media_service.get_media(uow.session, detail.media_id, owner_id)
    request = RenderRequest(detail.version, preset_name(style), resolved)
    job, new = await jobs.submit_render(
        uow.session, media, detail.id, request.as_options(), owner_id
    )
    if new:
        uow.enqueue([job])
    return job


async def find(session: AsyncSession, transcript_id: str, request: RenderRequest) -> Render | None:
    """The stored render of this version and style, if any: reused, never redone."""
    return await repository.find(session, transcript_id, request.version, request.recipe_key)


async def add(session: AsyncSession, render: Render) -> Render:
    return await repository.add(session, render)


async def list_renders(
    session: AsyncSession, transcript_ref: str, owner_id: str | None = None
) -> list[RenderView]:
    """A transcript's renders, oldest first (another owner's transcript is not found)."""
    detail = await transcripts.get_transcript(session, transcript_ref, owner_id=owner_id)
    return [
        RenderView.model_validate(r) for r in await repository.of_transcript(session, detail.id)
    ]


async def get_render(
    session: AsyncSession, transcript_ref: str, render_id: str, owner_id: str | None = None
) -> Render:
    detail = await transcripts.get_transcript(session, transcript_ref, owner_id=owner_id)
    render = await repository.get(session, render_id)
    if render is None or render.transcript_id != detail.id:
        raise errors.NotFoundError(
            RENDER_NOT_FOUND.format(transcript_id=detail.id, render_id=render_id)
        )
    return render


async def keys_of_media(session: AsyncSession, media_id: str) -> list[str]:
    """The stored objects of the media's renders (read before the media row is deleted)."""
    return await repository.keys_of_media(session, media_id)


async def remove_unused(session: AsyncSession, storage: Storage, keys: Sequence[str]) -> None:
    """Remove the stored objects among ``keys`` that no render row uses any more."""
    await session.flush()
    used = await repository.keys_in_use(session, keys)
    for key in keys:
        if key not in used:
            await anyio.to_thread.run_sync(storage.delete, key)
