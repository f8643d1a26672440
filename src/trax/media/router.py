"""``/api/v1/media``: multipart upload and URL ingest (both stored before anything else happens),
listing, reading and deleting (which removes the stored file)."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Query, Request, Response, status

from trax import outbound, workfiles
from trax.deps import CurrentUser, PageParams, Rt, UoW
from trax.media import deletion
from trax.media import service as media_service
from trax.media.schemas import MediaView, UrlIngest
from trax.media.uploads import receive_upload
from trax.pagination import Page

router = APIRouter(prefix="/api/v1/media", tags=["media"])

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "project_id": {"type": "string"},
                    },
                }
            }
        },
    }
}


@router.post("", status_code=status.HTTP_201_CREATED, openapi_extra=_UPLOAD_BODY)
async def upload_media(request: Request, user: CurrentUser, rt: Rt, uow: UoW) -> MediaView:
    """Upload a file (multipart field ``file``, optional ``project_id``). The body is streamed to
    storage; over ``TRAX_MAX_FILE_BYTES`` it is refused with 413 and nothing is kept. The same
    bytes uploaded again (also concurrently) give the same media."""
    received = await receive_upload(request, rt.settings.data_dir, rt.settings.max_file_bytes)
    try:
        staged = await media_service.stage_received(rt, received.path)
        media = await media_service.ingest_received(
            uow.session, rt.storage, staged, user.id, received.field("project_id")
        )
        return MediaView.model_validate(media)
    finally:
        await received.discard()


@router.post("/url", status_code=status.HTTP_201_CREATED)
async def ingest_url(body: UrlIngest, user: CurrentUser, rt: Rt, uow: UoW) -> MediaView:
    """Download a file from a public http(s) URL into storage, then record it. Private,
    loopback, link-local and mapped addresses are refused before connecting; redirects are
    checked again."""
    downloads = rt.settings.data_dir / workfiles.DOWNLOADS
    folder = await anyio.to_thread.run_sync(workfiles.new_folder, downloads)
    try:
        path = await outbound.download(
            body.url,
            folder,
            max_bytes=rt.settings.max_file_bytes,
            allow_loopback=rt.settings.outbound_allow_loopback,
            timeout=rt.settings.outbound_timeout_seconds,
            deadline=rt.settings.download_deadline_seconds,
        )
        staged = await media_service.stage_received(rt, path)
        media = await media_service.ingest_received(
            uow.session, rt.storage, staged, user.id, body.project_id
        )
        return MediaView.model_validate(media)
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))


@router.get("")
async def list_media(
    user: CurrentUser,
    uow: UoW,
    page: PageParams,
    project_id: Annotated[str | None, Query()] = None,
) -> Page[MediaView]:
    rows, cursor = await media_service.list_media(uow.session, user.id, project_id, page)
    return Page(items=[MediaView.model_validate(m) for m in rows], next_cursor=cursor)


@router.get("/{media_id}")
async def get_media(media_id: str, user: CurrentUser, uow: UoW) -> MediaView:
    return MediaView.model_validate(await media_service.get_media(uow.session, media_id, user.id))


@router.delete("/{media_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_media(media_id: str, user: CurrentUser, rt: Rt, uow: UoW) -> Response:
    """Delete the media, its transcripts and (once no one else's media uses the same bytes)
    the stored file. Its unfinished jobs fail with ``media_deleted``."""
    await deletion.delete_media(uow, rt.storage, media_id, user.id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
