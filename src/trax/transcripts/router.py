"""``/api/v1/transcriptions`` (start a job) and ``/api/v1/transcripts`` (read the results:
versions, captions in any format with the caption-line parameters)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import PlainTextResponse, Response

from trax import errors
from trax.captions.formats import CaptionStyle, ExportFormat, render, suffix
from trax.engine.options import TranscribeOptions
from trax.jobs import batch
from trax.jobs import service as jobs
from trax.jobs.schemas import JobView
from trax.media import service as media_service
from trax.pagination import Page
from trax.queue import Queue
from trax.runtime import Runtime
from trax.system.router import PageParams, queue, runtime
from trax.transcripts import service as transcripts
from trax.transcripts.schemas import (
    TranscriptDetail,
    TranscriptionRequest,
    TranscriptSummary,
    VersionSummary,
)
from trax.users.auth import CurrentUser

router = APIRouter(prefix="/api/v1", tags=["transcripts"])
Rt = Annotated[Runtime, Depends(runtime)]
Q = Annotated[Queue, Depends(queue)]
Version = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="A stored version; default: the newest.")
]
MEDIA_TYPES = {
    ExportFormat.SRT: "application/x-subrip",
    ExportFormat.VTT: "text/vtt",
    ExportFormat.TXT: "text/plain",
    ExportFormat.JSON: "application/json",
}


@router.post("/transcriptions", status_code=status.HTTP_202_ACCEPTED)
async def create_transcription(
    body: TranscriptionRequest, user: CurrentUser, rt: Rt, q: Q
) -> JobView:
    """Queue a transcription of stored media; answers 202 with the job to follow (``GET
    /api/v1/jobs/{id}`` or the WebSocket). The same media and options reuse the stored result."""
    options = TranscribeOptions(
        model=body.model or rt.settings.default_model,
        language=body.language,
        task=body.task,
        beam_size=body.beam_size,
        vad=body.vad,
        initial_prompt=body.initial_prompt,
    )
    async with rt.db.session() as s:
        media = await media_service.get_media(s, body.media_id, user.id)
    job_id = await batch.submit_media(rt, q, media, options, user.id)
    async with rt.db.session() as s:
        return JobView.model_validate(await jobs.get(s, job_id, user.id))


@router.get("/transcripts")
async def list_transcripts(
    user: CurrentUser,
    rt: Rt,
    page: PageParams,
    media_id: Annotated[str | None, Query()] = None,
) -> Page[TranscriptSummary]:
    """Your transcripts, newest first, each with its newest version."""
    async with rt.db.session() as s:
        items, cursor = await transcripts.list_page(s, user.id, media_id, page)
    return Page(items=items, next_cursor=cursor)


@router.get("/transcripts/{transcript_id}")
async def get_transcript(
    transcript_id: str, user: CurrentUser, rt: Rt, version: Version = None
) -> TranscriptDetail:
    """A transcript with its whole document (segments, words, provenance)."""
    async with rt.db.session() as s:
        return await transcripts.get_transcript(s, transcript_id, version, owner_id=user.id)


@router.get("/transcripts/{transcript_id}/versions")
async def list_versions(transcript_id: str, user: CurrentUser, rt: Rt) -> list[VersionSummary]:
    """Every version of a transcript: one per pipeline stage, oldest first."""
    async with rt.db.session() as s:
        return await transcripts.list_versions(s, transcript_id, user.id)


@router.get(
    "/transcripts/{transcript_id}/captions",
    response_class=PlainTextResponse,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
)
async def export_captions(
    transcript_id: str,
    user: CurrentUser,
    rt: Rt,
    format: Annotated[ExportFormat, Query()] = ExportFormat.SRT,
    version: Version = None,
    max_line_chars: Annotated[int, Query(ge=10, le=200)] = 42,
    max_lines: Annotated[int, Query(ge=1, le=10)] = 2,
    max_cue_seconds: Annotated[float, Query(gt=0, le=60)] = 7.0,
    min_cue_seconds: Annotated[float, Query(ge=0, le=60)] = 1.0,
    pause_seconds: Annotated[float, Query(gt=0, le=10)] = 0.6,
) -> Response:
    """A version as SRT, WebVTT, plain text or JSON, laid out with the caption-line limits."""
    try:
        style = CaptionStyle(max_line_chars, max_lines, max_cue_seconds, min_cue_seconds,
                             pause_seconds)  # fmt: skip
    except ValueError as exc:
        raise errors.UsageError(str(exc)) from exc
    async with rt.db.session() as s:
        detail = await transcripts.get_transcript(s, transcript_id, version, owner_id=user.id)
    name = f"{detail.filename.rsplit('.', 1)[0] or 'transcript'}{suffix(format)}"
    return Response(
        render(detail.document, format, style),
        media_type=MEDIA_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
