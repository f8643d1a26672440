"""``POST /v1/audio/transcriptions``, ``/v1/audio/translations`` and ``GET /v1/models``.

Same request and response shapes as OpenAI's audio API, with Bearer API keys (``trax apikeys
create``). The upload is streamed to disk with the size limit enforced while streaming, becomes
an ordinary job, and the request waits for it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, ValidationError

from trax import errors
from trax.captions.formats import ExportFormat, render
from trax.deps import CurrentUser, Q, Rt
from trax.engine.result import TranscriptDocument
from trax.jobs import batch, control
from trax.media import service as media_service
from trax.media.uploads import receive_upload
from trax.queue import Queue
from trax.runtime import Runtime
from trax.transcripts import service as transcripts
from trax.transcripts.options import offered_models, transcribe_options
from trax.transcripts.stages import DIARIZED, pipeline_stages, with_stage
from trax.unit_of_work import unit_of_work
from trax.users.auth import Caller

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
#: OpenAI's model name maps to Trax's default model.
OPENAI_MODEL = "whisper-1"


class Granularity(StrEnum):
    WORD = "word"
    SEGMENT = "segment"


class ResponseFormat(StrEnum):
    JSON = "json"
    TEXT = "text"
    SRT = "srt"
    VTT = "vtt"
    VERBOSE_JSON = "verbose_json"
    DIARIZED_JSON = "diarized_json"


class AudioForm(BaseModel):
    """The form fields of OpenAI's audio endpoints (besides ``file``)."""

    model: str = OPENAI_MODEL
    language: str | None = None
    prompt: str | None = None
    response_format: ResponseFormat = ResponseFormat.JSON
    temperature: float = Field(default=0.0, ge=0, le=1)
    granularities: list[Granularity] = Field(default=[], alias="timestamp_granularities[]")
    #: Trax's extra field: a pipeline preset (v1, v3 …); OpenAI clients never send it.
    pipeline: str | None = None

    @classmethod
    def parse(cls, fields: dict[str, list[str]]) -> AudioForm:
        many = "timestamp_granularities[]"  # the one field that repeats
        values: dict[str, object] = {k: v[0] for k, v in fields.items() if v and k != many}
        values[many] = fields.get(many, [])
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            ) from exc


def _form_schema(*, language: bool) -> dict[str, Any]:
    """OpenAPI for the multipart body (parsed by hand, streamed: see ``media.uploads``)."""
    properties: dict[str, Any] = {
        "file": {"type": "string", "format": "binary"},
        "model": {"type": "string", "default": OPENAI_MODEL},
        "prompt": {"type": "string"},
        "response_format": {"type": "string", "enum": [f.value for f in ResponseFormat]},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "pipeline": {
            "type": "string",
            "description": "Trax only: stages after the first transcription (v1, v3).",
        },
    }
    if language:
        properties["language"] = {"type": "string"}
        properties["timestamp_granularities[]"] = {
            "type": "array",
            "items": {"type": "string", "enum": [g.value for g in Granularity]},
        }
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {
        "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    }


async def _transcribe(task: str, request: Request, user: Caller, rt: Runtime, q: Queue) -> Response:
    """Receive the upload (streamed, size-limited), check the options (422 at once, naming the
    field), store it as the caller's media and submit an ordinary job in one unit of work,
    committed before the request waits for the job's result."""
    received = await receive_upload(request, rt.settings.data_dir, rt.settings.max_file_bytes)
    try:
        form = AudioForm.parse(received.fields)
        name = rt.settings.default_model if form.model == OPENAI_MODEL else form.model
        language = form.language if task == "transcribe" else None
        options = transcribe_options(rt.settings, trusted=False, model=name, language=language,
                                     task=task, initial_prompt=form.prompt)  # fmt: skip
        stages = pipeline_stages(rt.settings, form.pipeline, trusted=False)
        if form.response_format is ResponseFormat.DIARIZED_JSON:
            stages = with_stage(rt.settings, stages, DIARIZED, trusted=False)
        staged = await media_service.stage_received(rt, received.path)
        async with unit_of_work(rt.db, q) as uow:
            media = await media_service.ingest_received(uow.session, rt.storage, staged, user.id,
                                                        None)  # fmt: skip
            job_id = (await control.submit_media(uow, media, options, user.id, stages)).id
    finally:
        await received.discard()
    (done,) = await batch.wait(rt, [job_id])
    if done.transcript_id is None:
        status = errors.http_status_for(done.error_kind or "")
        body = {"error": {"code": done.error_kind, "message": done.error_message, "details": None}}
        return JSONResponse(body, status_code=status)
    async with rt.db.session() as s:
        detail = await transcripts.get_transcript(s, done.transcript_id, done.transcript_version)
        doc = detail.document
    return _respond(doc, task, form.response_format, [g.value for g in form.granularities])


def _respond(
    doc: TranscriptDocument, task: str, fmt: ResponseFormat, granularities: list[str]
) -> Response:
    if fmt is ResponseFormat.JSON:
        return JSONResponse({"text": doc.text})
    if fmt is ResponseFormat.TEXT:
        return PlainTextResponse(doc.text + "\n")
    if fmt in (ResponseFormat.SRT, ResponseFormat.VTT):
        return PlainTextResponse(render(doc, ExportFormat(fmt.value)))
    if fmt is ResponseFormat.DIARIZED_JSON:
        return JSONResponse(_diarized(doc, task))
    return JSONResponse(_verbose(doc, task, granularities))


def _diarized(doc: TranscriptDocument, task: str) -> dict[str, Any]:
    """OpenAI's ``diarized_json``: the text and its segments, each with its speaker."""
    segments = [
        {
            "type": "transcript.text.segment",
            "id": f"seg_{s.id}",
            "start": s.start,
            "end": s.end,
            "text": s.text.strip(),
            "speaker": s.speaker,
        }
        for s in doc.segments
        if s.text.strip()
    ]
    return {"task": task, "duration": doc.duration, "text": doc.text, "segments": segments}


def _verbose(doc: TranscriptDocument, task: str, granularities: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": task,
        "language": doc.language,
        "duration": doc.duration,
        "text": doc.text,
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [
            {
                "id": s.id,
                "seek": 0,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": [],
                "temperature": 0.0,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": 0.0,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in doc.segments
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.text.strip(), "start": w.start, "end": w.end} for w in doc.words
        ]
    return body


@router.post("/audio/transcriptions", openapi_extra=_form_schema(language=True))
async def transcriptions(request: Request, user: CurrentUser, rt: Rt, q: Q) -> Response:
    """Transcribe an uploaded file (OpenAI ``audio.transcriptions.create``). Decoding is
    deterministic (beam search at temperature 0); ``temperature`` is accepted and ignored."""
    return await _transcribe("transcribe", request, user, rt, q)


@router.post("/audio/translations", openapi_extra=_form_schema(language=False))
async def translations(request: Request, user: CurrentUser, rt: Rt, q: Q) -> Response:
    """Translate an uploaded file into English (OpenAI ``audio.translations.create``)."""
    return await _transcribe("translate", request, user, rt, q)


@router.get("/models")
async def list_models(_user: CurrentUser, rt: Rt) -> dict[str, Any]:
    """``whisper-1`` (the server's default model) and every model this server offers."""
    names = [OPENAI_MODEL, *offered_models(rt.settings)]
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "trax"} for n in names]
    return {"object": "list", "data": data}
