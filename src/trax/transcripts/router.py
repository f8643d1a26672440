"""``/api/v1/transcriptions`` (start a job) and ``/api/v1/transcripts`` (read the results:
versions, captions in any format with the caption-line parameters)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import PlainTextResponse, Response

from trax import errors
from trax.captions import formats
from trax.captions.formats import CaptionStyle, ExportFormat, render, suffix
from trax.deps import CurrentUser, PageParams, Rt, UoW
from trax.jobs import control
from trax.jobs.schemas import JobView
from trax.media import service as media_service
from trax.pagination import Page
from trax.transcripts import edits, speakers
from trax.transcripts import service as transcripts
from trax.transcripts.diff import VersionDiff
from trax.transcripts.options import transcribe_options
from trax.transcripts.schemas import (
    EditCreate,
    SpeakerRename,
    SpeakersView,
    StageCreate,
    TranscriptDetail,
    TranscriptionRequest,
    TranscriptSummary,
    VersionSummary,
)
from trax.transcripts.stages import pipeline_stages, stage_request

router = APIRouter(prefix="/api/v1", tags=["transcripts"])
Version = Annotated[
    int | None, Query(ge=1, le=2**31 - 1, description="A stored version; default: the newest.")
]
MEDIA_TYPES = {
    ExportFormat.SRT: "application/x-subrip",
    ExportFormat.VTT: "text/vtt",
    ExportFormat.TXT: "text/plain",
    ExportFormat.JSON: "application/json",
    ExportFormat.RTTM: "text/plain",
}


@router.post("/transcriptions", status_code=status.HTTP_202_ACCEPTED)
async def create_transcription(
    body: TranscriptionRequest, user: CurrentUser, rt: Rt, uow: UoW
) -> JobView:
    """Queue a transcription of stored media; answers 202 with the job to follow (``GET
    /api/v1/jobs/{id}`` or the WebSocket). The same media and options reuse the stored result,
    and identical requests share one job. A bad option is 422 at once, naming it."""
    options = transcribe_options(
        rt.settings,
        trusted=False,
        model=body.model,
        language=body.language,
        task=body.task,
        beam_size=body.beam_size,
        vad=body.vad,
        initial_prompt=body.initial_prompt,
        hotwords=body.hotwords,
    )
    stages = pipeline_stages(rt.settings, body.pipeline, trusted=False)
    media = await media_service.get_media(uow.session, body.media_id, user.id)
    return JobView.model_validate(await control.submit_media(uow, media, options, user.id, stages))


@router.get("/transcripts")
async def list_transcripts(
    user: CurrentUser,
    uow: UoW,
    page: PageParams,
    media_id: Annotated[str | None, Query()] = None,
    q: Annotated[
        str | None, Query(description="Not a filter here: searching is GET /api/v1/search?q=…")
    ] = None,
) -> Page[TranscriptSummary]:
    """Your transcripts, newest first, each with its newest version. To search them, use
    ``GET /api/v1/search`` (a ``q`` here is refused rather than ignored)."""
    if q is not None:
        raise errors.InvalidOptionError("q", transcripts.SEARCH_ELSEWHERE)
    items, cursor = await transcripts.list_page(uow.session, user.id, media_id, page)
    return Page(items=items, next_cursor=cursor)


@router.get("/transcripts/{transcript_id}")
async def get_transcript(
    transcript_id: str, user: CurrentUser, uow: UoW, version: Version = None
) -> TranscriptDetail:
    """A transcript with its whole document (segments, words, provenance)."""
    return await transcripts.get_transcript(uow.session, transcript_id, version, owner_id=user.id)


@router.get("/transcripts/{transcript_id}/versions")
async def list_versions(transcript_id: str, user: CurrentUser, uow: UoW) -> list[VersionSummary]:
    """Every version of a transcript, oldest first, with its provenance: the stage, the version
    it refined, its options, library versions, and the wall/CPU seconds and cost it took."""
    return await transcripts.list_versions(uow.session, transcript_id, user.id)


@router.post("/transcripts/{transcript_id}/stages", status_code=status.HTTP_202_ACCEPTED)
async def create_stage(
    transcript_id: str, body: StageCreate, user: CurrentUser, rt: Rt, uow: UoW
) -> JobView:
    """Run a pipeline stage on a version (default: the newest); answers 202 with the job. Its
    output becomes a new version (``transcript.version_created``); the same stage and options
    on the same version are reused. A bad stage or option is 422 at once, naming it."""
    request = stage_request(rt.settings, body.stage, body.options, trusted=False)
    job = await control.submit_stages(uow, transcript_id, [request], body.parent_version, user.id)
    return JobView.model_validate(job)


@router.get("/transcripts/{transcript_id}/speakers")
async def list_speakers(
    transcript_id: str, user: CurrentUser, uow: UoW, version: Version = None
) -> SpeakersView:
    """The speakers of a version (default: the newest) with their talk time."""
    found = await speakers.list_speakers(uow.session, transcript_id, version, user.id)
    return SpeakersView.model_validate(found, from_attributes=True)


@router.post("/transcripts/{transcript_id}/speakers/rename", status_code=status.HTTP_201_CREATED)
async def rename_speaker(
    transcript_id: str, body: SpeakerRename, user: CurrentUser, uow: UoW
) -> SpeakersView:
    """Rename a speaker: stores a new version (stage ``speakers``) with the name on every
    segment and word, so captions, exports and search show it. 422 names a missing speaker."""
    found = await speakers.rename_speaker(
        uow.session, transcript_id, body.from_, body.to, body.version, user.id
    )
    return SpeakersView.model_validate(found, from_attributes=True)


@router.post("/transcripts/{transcript_id}/edits", status_code=status.HTTP_201_CREATED)
async def edit_transcript(
    transcript_id: str, body: EditCreate, user: CurrentUser, uow: UoW
) -> VersionSummary:
    """Correct a word or a segment: stores a new version (stage ``edited``, with who and when
    in its options) and answers its summary. 422 names a missing segment or word, or bad text."""
    row = await edits.edit_transcript(
        uow.session, transcript_id, edits.Edit(body.segment, body.text, body.word), user.email,
        body.version, user.id,
    )  # fmt: skip
    return await transcripts.version_summary(uow.session, row.transcript_id, row.version)


@router.get("/transcripts/{transcript_id}/diff")
async def diff_versions(
    transcript_id: str,
    user: CurrentUser,
    uow: UoW,
    a: Annotated[int, Query(ge=1, le=2**31 - 1, description="The older version.")],
    b: Annotated[int, Query(ge=1, le=2**31 - 1, description="The newer version.")],
) -> VersionDiff:
    """Word-level changes from version ``a`` to version ``b``, with the times and, where a
    stage re-decoded the audio, why."""
    return await transcripts.diff_versions(uow.session, transcript_id, a, b, user.id)


@router.get(
    "/transcripts/{transcript_id}/captions",
    response_class=PlainTextResponse,
    responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}},
)
async def export_captions(
    transcript_id: str,
    user: CurrentUser,
    uow: UoW,
    format: Annotated[ExportFormat, Query()] = ExportFormat.SRT,
    version: Version = None,
    max_line_chars: Annotated[int, Query(ge=formats.LINE_CHARS[0], le=formats.LINE_CHARS[1])] = 42,
    max_lines: Annotated[int, Query(ge=formats.LINES[0], le=formats.LINES[1])] = 2,
    max_cue_seconds: Annotated[
        float, Query(ge=formats.CUE_SECONDS[0], le=formats.CUE_SECONDS[1])
    ] = 7.0,
    min_cue_seconds: Annotated[
        float, Query(ge=formats.MIN_CUE_SECONDS[0], le=formats.MIN_CUE_SECONDS[1])
    ] = 1.0,
    pause_seconds: Annotated[
        float, Query(ge=formats.PAUSE_SECONDS[0], le=formats.PAUSE_SECONDS[1])
    ] = 0.6,
    speaker_labels: bool = True,
) -> Response:
    """A version as SRT, WebVTT, plain text or JSON, laid out with the caption-line limits
    (the same limits as ``trax export``)."""
    style = CaptionStyle(max_line_chars, max_lines, max_cue_seconds, min_cue_seconds,
                         pause_seconds, speaker_labels)  # fmt: skip
    detail = await transcripts.get_transcript(uow.session, transcript_id, version, user.id)
    name = f"{detail.filename.rsplit('.', 1)[0] or 'transcript'}{suffix(format)}"
    return Response(
        render(detail.document, format, style),
        media_type=MEDIA_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
