"""``POST /v1/audio/transcriptions``, ``/v1/audio/translations`` and ``GET /v1/models``.

Same request and response shapes as OpenAI's audio API, with Bearer API keys (``trax apikeys
create``). The upload is streamed to disk with the size limit enforced while streaming, becomes
an ordinary job, and the request waits for it.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from trax import errors
from trax.captions.formats import ExportFormat, render
from trax.engine.models import offline_models
from trax.engine.options import TranscribeOptions
from trax.engine.result import TranscriptDocument
from trax.jobs import batch
from trax.jobs.models import Job
from trax.media.service import UPLOAD_TOO_LARGE, safe_filename, save_upload
from trax.queue import Queue
from trax.runtime import Runtime
from trax.system.router import queue, runtime
from trax.transcripts import service as transcripts
from trax.users import service as users
from trax.users.models import User

router = APIRouter(prefix="/v1", tags=["openai-compatible"])
#: OpenAI's model name maps to Trax's default model.
OPENAI_MODEL = "whisper-1"


class ResponseFormat(StrEnum):
    JSON = "json"
    TEXT = "text"
    SRT = "srt"
    VTT = "vtt"
    VERBOSE_JSON = "verbose_json"


async def api_user(request: Request, rt: Annotated[Runtime, Depends(runtime)]) -> User:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    async with rt.db.session() as s:
        return await users.authenticate_key(s, key.strip() if scheme.lower() == "bearer" else "")


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while block := await upload.read(1 << 20):
        yield block


async def _run(rt: Runtime, q: Queue, upload: UploadFile, options: TranscribeOptions) -> Job:
    limit = rt.settings.max_file_bytes
    if upload.size is not None and upload.size > limit:
        reason = UPLOAD_TOO_LARGE.format(limit=limit)
        raise errors.MediaTooLargeError(safe_filename(upload.filename), reason)
    path = await save_upload(rt.settings.data_dir, upload.filename, _chunks(upload), limit)
    try:
        (job,) = await batch.submit(rt, q, [path], options)
        (done,) = await batch.wait(rt, [job.id])
    finally:
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(path.parent, ignore_errors=True))
    return done


async def _transcribe(
    task: str,
    rt: Runtime,
    q: Queue,
    file: UploadFile,
    model: str,
    language: str | None,
    prompt: str | None,
    response_format: ResponseFormat,
    granularities: list[str],
) -> Response:
    name = rt.settings.default_model if model == OPENAI_MODEL else model
    options = TranscribeOptions(model=name, language=language or None, task=task,
                                initial_prompt=prompt or None)  # fmt: skip
    done = await _run(rt, q, file, options)
    if done.transcript_id is None:
        status = errors.http_status_for(done.error_kind or "")
        body = {"error": {"code": done.error_kind, "message": done.error_message, "details": None}}
        return JSONResponse(body, status_code=status)
    async with rt.db.session() as s:
        doc = (await transcripts.get_transcript(s, done.transcript_id)).document
    return _respond(doc, task, response_format, granularities)


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


Upload = Annotated[UploadFile, Form()]
Text = Annotated[str | None, Form()]


@router.post("/audio/transcriptions")
async def transcriptions(
    _user: Annotated[User, Depends(api_user)],
    rt: Annotated[Runtime, Depends(runtime)],
    q: Annotated[Queue, Depends(queue)],
    file: Upload,
    model: Annotated[str, Form()] = OPENAI_MODEL,
    language: Text = None,
    prompt: Text = None,
    response_format: Annotated[ResponseFormat, Form()] = ResponseFormat.JSON,
    temperature: Annotated[float, Form(ge=0, le=1)] = 0.0,
    granularities: Annotated[list[str], Form(alias="timestamp_granularities[]")] = [],  # noqa: B006
) -> Response:
    """Transcribe an uploaded file (OpenAI ``audio.transcriptions.create``)."""
    del temperature  # decoding is deterministic (beam search at temperature 0)
    return await _transcribe("transcribe", rt, q, file, model, language, prompt,
                             response_format, granularities)  # fmt: skip


@router.post("/audio/translations")
async def translations(
    _user: Annotated[User, Depends(api_user)],
    rt: Annotated[Runtime, Depends(runtime)],
    q: Annotated[Queue, Depends(queue)],
    file: Upload,
    model: Annotated[str, Form()] = OPENAI_MODEL,
    prompt: Text = None,
    response_format: Annotated[ResponseFormat, Form()] = ResponseFormat.JSON,
    temperature: Annotated[float, Form(ge=0, le=1)] = 0.0,
) -> Response:
    """Translate an uploaded file into English (OpenAI ``audio.translations.create``)."""
    del temperature
    return await _transcribe("translate", rt, q, file, model, None, prompt, response_format, [])


@router.get("/models")
async def list_models(
    _user: Annotated[User, Depends(api_user)], rt: Annotated[Runtime, Depends(runtime)]
) -> dict[str, Any]:
    names = [OPENAI_MODEL, *(m.name for m in offline_models(rt.settings.model_cache_dir))]
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "trax"} for n in names]
    return {"object": "list", "data": data}
