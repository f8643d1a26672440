"""``POST /v1/audio/transcriptions``, ``/v1/audio/translations`` and ``GET /v1/models``.

Same request and response shapes as OpenAI's audio API, with Bearer API keys (``trax apikeys
create``). The upload is streamed to disk with the size limit enforced while streaming, becomes
an ordinary job, and the request waits for it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field, ValidationError

from trax import errors
from trax.captions.formats import ExportFormat, render
from trax.engine.models import offline_models
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.jobs import batch
from trax.media import service as media_service
from trax.media.uploads import receive_upload
from trax.queue import Queue
from trax.runtime import Runtime
from trax.system.router import queue, runtime
from trax.transcripts import service as transcripts
from trax.users.auth import CurrentUser
from trax.users.models import User

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


class AudioForm(BaseModel):
    """The form fields of OpenAI's audio endpoints (besides ``file``)."""

    model: str = OPENAI_MODEL
    language: str | None = None
    prompt: str | None = None
    response_format: ResponseFormat = ResponseFormat.JSON
    temperature: float = Field(default=0.0, ge=0, le=1)
    granularities: list[Granularity] = Field(default=[], alias="timestamp_granularities[]")

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


async def _transcribe(task: str, request: Request, user: User, rt: Runtime, q: Queue) -> Response:
    """Receive the upload (streamed, size-limited), store it as the caller's media, run an
    ordinary job on it and wait for the result."""
    received = await receive_upload(request, rt.settings.data_dir, rt.settings.max_file_bytes)
    try:
        form = AudioForm.parse(received.fields)
        media = await media_service.ingest(rt, received.path, user.id, None)
    finally:
        await received.discard()
    name = rt.settings.default_model if form.model == OPENAI_MODEL else form.model
    language = form.language if task == "transcribe" else None
    options = TranscribeOptions(model=name, language=language or None, task=task,
                                initial_prompt=form.prompt or None)  # fmt: skip
    job_id = await batch.submit_media(rt, q, media, options, user.id)
    (done,) = await batch.wait(rt, [job_id])
    if done.transcript_id is None:
        status = errors.http_status_for(done.error_kind or "")
        body = {"error": {"code": done.error_kind, "message": done.error_message, "details": None}}
        return JSONResponse(body, status_code=status)
    async with rt.db.session() as s:
        doc = (await transcripts.get_transcript(s, done.transcript_id)).document
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
    return JSONResponse(_verbose(doc, task, granularities))


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
async def transcriptions(
    request: Request,
    user: CurrentUser,
    rt: Annotated[Runtime, Depends(runtime)],
    q: Annotated[Queue, Depends(queue)],
) -> Response:
    """Transcribe an uploaded file (OpenAI ``audio.transcriptions.create``). Decoding is
    deterministic (beam search at temperature 0); ``temperature`` is accepted and ignored."""
    return await _transcribe("transcribe", request, user, rt, q)


@router.post("/audio/translations", openapi_extra=_form_schema(language=False))
async def translations(
    request: Request,
    user: CurrentUser,
    rt: Annotated[Runtime, Depends(runtime)],
    q: Annotated[Queue, Depends(queue)],
) -> Response:
    """Translate an uploaded file into English (OpenAI ``audio.translations.create``)."""
    return await _transcribe("translate", request, user, rt, q)


@router.get("/models")
async def list_models(
    _user: CurrentUser, rt: Annotated[Runtime, Depends(runtime)]
) -> dict[str, Any]:
    names = [OPENAI_MODEL, *(m.name for m in offline_models(rt.settings.model_cache_dir))]
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "trax"} for n in names]
    return {"object": "list", "data": data}
