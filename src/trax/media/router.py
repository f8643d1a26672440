"""``/api/v1/media``: multipart upload and URL ingest (both stored before anything else happens),
listing, reading and deleting (which removes the stored file)."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

import anyio
import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request, Response, status

from trax import outbound, workfiles
from trax.media import service as media_service
from trax.media.schemas import MediaView, UrlIngest
from trax.media.uploads import receive_upload
from trax.pagination import Page
from trax.runtime import Runtime
from trax.system.router import PageParams, runtime
from trax.users.auth import CurrentUser

router = APIRouter(prefix="/api/v1/media", tags=["media"])
Rt = Annotated[Runtime, Depends(runtime)]

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
async def upload_media(request: Request, user: CurrentUser, rt: Rt) -> MediaView:
    """Upload a file (multipart field ``file``, optional ``project_id``). The body is streamed to
    storage; over ``TRAX_MAX_FILE_BYTES`` it is refused with 413 and nothing is kept."""
    received = await receive_upload(request, rt.settings.data_dir, rt.settings.max_file_bytes)
    try:
        media = await media_service.ingest(rt, received.path, user.id, received.field("project_id"))
        return MediaView.model_validate(media)
    finally:
        await received.discard()


@router.post("/url", status_code=status.HTTP_201_CREATED)
async def ingest_url(body: UrlIngest, user: CurrentUser, rt: Rt) -> MediaView:
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
        )
        return MediaView.model_validate(
            await media_service.ingest(rt, path, user.id, body.project_id)
        )
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))


@router.get("")
async def list_media(
    user: CurrentUser,
    rt: Rt,
    page: PageParams,
    project_id: Annotated[str | None, Query()] = None,
) -> Page[MediaView]:
    async with rt.db.session() as s:
        rows, cursor = await media_service.list_media(s, user.id, project_id, page)
        return Page(items=[MediaView.model_validate(m) for m in rows], next_cursor=cursor)


@router.get("/{media_id}")
async def get_media(media_id: str, user: CurrentUser, rt: Rt) -> MediaView:
    async with rt.db.session() as s:
        return MediaView.model_validate(await media_service.get_media(s, media_id, user.id))


@router.delete("/{media_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_media(media_id: str, user: CurrentUser, rt: Rt) -> Response:
    """Delete the media, its transcripts and (once no one else's media uses the same bytes)
    the stored file."""
    async with rt.db.session() as s:
        key = await media_service.delete_media(s, media_id, user.id)
    if key is not None:
        await anyio.to_thread.run_sync(rt.storage.delete, key)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
