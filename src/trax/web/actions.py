"""The web pages' state-changing routes: each checks the session's CSRF token (403 without it)
and calls the same use-case function as the API; a refused value comes back on the page."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from trax import errors
from trax.deps import Rt, UoW
from trax.jobs import control
from trax.jobs.schemas import JobView
from trax.media import service as media_service
from trax.media.uploads import receive_upload
from trax.pagination import PageRequest
from trax.renders import service as renders
from trax.transcripts import speakers
from trax.transcripts.edits import Edit, edit_transcript
from trax.transcripts.options import transcribe_options
from trax.transcripts.stages import stage_request
from trax.users import service as users
from trax.users.auth import Callers
from trax.web.rendering import page
from trax.web.sessions import CheckedSession, WebSession
from trax.webhooks import service as webhooks

router = APIRouter(include_in_schema=False)
Checked = CheckedSession
Version = Annotated[int | None, Form(ge=1, le=2**31 - 1)]


def _back(transcript_id: str, **query: object) -> RedirectResponse:
    given = {k: v for k, v in query.items() if v is not None}
    suffix = f"?{urlencode(given)}" if given else ""
    return RedirectResponse(f"/transcripts/{transcript_id}{suffix}", status_code=303)


@router.post("/upload")
async def upload(request: Request, web: Checked, rt: Rt, uow: UoW) -> JSONResponse:
    """One file from the upload page (an XHR with the CSRF header): stored, then transcribed
    with the server's default options. Answers the job to follow on the WebSocket."""
    received = await receive_upload(request, rt.settings.data_dir, rt.settings.max_file_bytes)
    try:
        staged = await media_service.stage_received(rt, received.path)
        media = await media_service.ingest_received(
            uow.session, rt.storage, staged, web.user.id, None
        )
    finally:
        await received.discard()
    options = transcribe_options(rt.settings, trusted=False)
    job = await control.submit_media(uow, media, options, web.user.id)
    body = {"media_id": media.id, "filename": media.filename,
            "job": JobView.model_validate(job).model_dump(mode="json")}  # fmt: skip
    return JSONResponse(body, status_code=201)


@router.post("/transcripts/{transcript_id}/edits")
async def edit(
    transcript_id: str,
    web: Checked,
    uow: UoW,
    segment: Annotated[int, Form(ge=0, le=10**6)],
    text: Annotated[str, Form(max_length=4000)],
    version: Version = None,
    word: Annotated[int | None, Form(ge=0, le=10**6)] = None,
    t: Annotated[float | None, Form(ge=0)] = None,
) -> Response:
    """Correct a word (``word`` given) or a whole segment; the new version opens."""
    try:
        row = await edit_transcript(uow.session, transcript_id, Edit(segment, text, word),
                                    web.user.email, version, web.user.id)  # fmt: skip
    except errors.InvalidOptionError as exc:
        return _back(transcript_id, version=version, error=exc.message, t=t)
    return _back(transcript_id, version=row.version, t=t)


@router.post("/transcripts/{transcript_id}/speakers")
async def rename_speaker(
    transcript_id: str,
    web: Checked,
    uow: UoW,
    old: Annotated[str, Form(alias="from", max_length=200)],
    new: Annotated[str, Form(alias="to", max_length=200)],
    version: Version = None,
) -> Response:
    try:
        found = await speakers.rename_speaker(uow.session, transcript_id, old, new, version,
                                              web.user.id)  # fmt: skip
    except errors.InvalidOptionError as exc:
        return _back(transcript_id, version=version, error=exc.message)
    return _back(transcript_id, version=found.version)


@router.post("/transcripts/{transcript_id}/stages")
async def run_stage(
    transcript_id: str,
    web: Checked,
    rt: Rt,
    uow: UoW,
    stage: Annotated[str, Form(max_length=32)],
    version: Version = None,
) -> Response:
    """Queue a stage on the shown version; the page tells when its version is ready."""
    try:
        request = stage_request(rt.settings, stage, {}, trusted=False)
        job = await control.submit_stages(uow, transcript_id, [request], version, web.user.id)
    except errors.InvalidOptionError as exc:
        return _back(transcript_id, version=version, error=exc.message)
    return _back(transcript_id, version=version, job=job.id)


@router.post("/transcripts/{transcript_id}/renders")
async def render_video(
    transcript_id: str, web: Checked, uow: UoW, version: Version = None
) -> Response:
    """Queue a burn-in render of the shown version (default style)."""
    job = await renders.submit_render(uow, transcript_id, version, None, None, web.user.id)
    return _back(transcript_id, version=version, job=job.id)


async def account_view(
    request: Request,
    web: WebSession,
    uow: UoW,
    *,
    new_key: str | None = None,
    secret: str | None = None,
    error: str | None = None,
) -> Response:
    """The account page: API keys (a new one shown once) and webhook endpoints."""
    keys = await users.list_api_keys(uow.session, web.user.email)
    hooks, _ = await webhooks.list_endpoints(uow.session, web.user.id, PageRequest(100, None))
    return page(request, "account.html", web, keys=keys, hooks=hooks, new_key=new_key,
                secret=secret, error=error, status_code=422 if error else 200)  # fmt: skip


@router.post("/account/keys")
async def create_key(request: Request, web: Checked, uow: UoW) -> Response:
    """A new API key, shown this once on the page."""
    key = await users.create_api_key(uow.session, web.user.email)
    return await account_view(request, web, uow, new_key=key)


@router.post("/account/keys/{key_id}/revoke")
async def revoke_key(request: Request, key_id: str, web: Checked, uow: UoW) -> Response:
    await users.revoke_own_api_key(uow.session, web.user, key_id)
    # Refused at once by this process; other server processes forget within CALLER_TTL_SECONDS.
    callers: Callers = request.app.state.callers
    callers.forget_user(web.user.id)
    return await account_view(request, web, uow)


@router.post("/account/webhooks")
async def create_webhook(
    request: Request,
    web: Checked,
    rt: Rt,
    uow: UoW,
    url: Annotated[str, Form(max_length=2048)],
    description: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """A webhook endpoint for every event; its signing secret is shown this once."""
    try:
        _endpoint, secret = await webhooks.create_endpoint(
            uow.session, web.user.id, url.strip(), description.strip() or None, [],
            rt.settings.outbound_allow_loopback,
        )  # fmt: skip
    except errors.TraxError as exc:
        return await account_view(request, web, uow, error=exc.message)
    return await account_view(request, web, uow, secret=secret)


@router.post("/account/webhooks/{endpoint_id}/delete")
async def delete_webhook(request: Request, endpoint_id: str, web: Checked, uow: UoW) -> Response:
    await webhooks.delete_endpoint(uow.session, web.user.id, endpoint_id)
    return await account_view(request, web, uow)
