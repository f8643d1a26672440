"""The web pages served at ``/`` (ADR 0021): server-rendered with Jinja, htmx for the partial
updates, calling the same services as the API. State-changing routes are in
:mod:`trax.web.actions`; sessions and CSRF in :mod:`trax.web.sessions`."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from trax import errors
from trax.captions.formats import CaptionStyle, ExportFormat, render, suffix
from trax.deps import Rt, UoW, stored_file
from trax.jobs import service as jobs
from trax.jobs.models import JobStatus
from trax.jobs.schemas import JobView
from trax.media import service as media_service
from trax.pagination import PageRequest
from trax.renders import service as renders
from trax.search import service as search
from trax.search.schemas import SearchResult
from trax.transcripts import service as transcripts
from trax.transcripts import speakers
from trax.transcripts.router import MEDIA_TYPES
from trax.transcripts.stages import AVAILABLE, ENHANCED, STAGES
from trax.users import service as users
from trax.users.auth import LoginLimiter, client_address, issue_token
from trax.web import actions
from trax.web.rendering import STATIC, page
from trax.web.sessions import (
    CheckedSession,
    LoginRequired,
    Session,
    check_login_token,
    end_session,
    login_nonce,
    login_token,
    optional_session,
    set_login_nonce,
    start_session,
)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25


def mount(app: FastAPI) -> None:
    """Serve the pages at ``/`` and their static files at ``/static``."""
    app.include_router(router)
    app.include_router(actions.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="web-static")
    app.add_exception_handler(LoginRequired, _to_login)


async def _to_login(request: Request, _exc: Exception) -> Response:
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    return RedirectResponse("/login", status_code=303)


@router.get("/")
async def home(request: Request, rt: Rt) -> Response:
    found = await optional_session(request, rt)
    return RedirectResponse("/library" if found else "/login", status_code=303)


@router.get("/login")
async def login_page(request: Request, rt: Rt) -> Response:
    if await optional_session(request, rt):
        return RedirectResponse("/library", status_code=303)
    return _login_form(request, rt, None)


def _login_form(request: Request, rt: Rt, error: str | None, status_code: int = 200) -> Response:
    nonce, fresh = login_nonce(request)
    token = login_token(rt.settings, nonce)
    response = page(request, "login.html", None, token=token, error=error,
                    status_code=status_code)  # fmt: skip
    if fresh:
        set_login_nonce(request, response, nonce)
    return response


@router.post("/login")
async def login(
    request: Request,
    rt: Rt,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    """The API's password check and rate limits; on success a session cookie and the library."""
    check_login_token(rt.settings, request, csrf)
    limiter: LoginLimiter = request.app.state.login_limiter
    try:
        limiter.hit(client_address(request), email)
        async with rt.db.session() as s:  # commits a rehashed password
            user = await users.login(s, email, password)
    except (errors.AuthError, errors.RateLimitedError) as exc:
        return _login_form(request, rt, exc.message, exc.http_status)
    response = RedirectResponse("/library", status_code=303)
    start_session(rt.settings, request, response, user)
    return response


@router.post("/logout")
async def logout(_web: CheckedSession) -> Response:
    response = RedirectResponse("/login", status_code=303)
    end_session(response)
    return response


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value else None


@router.get("/library")
async def library(
    request: Request,
    web: Session,
    uow: UoW,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    language: Annotated[str | None, Query(max_length=16)] = None,
    stage: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = PAGE_SIZE,
) -> Response:
    """The user's transcripts, newest first, filtered and paged; and their unfinished jobs."""
    language, stage = _blank(language), _blank(stage)
    language = language.lower() if language else None
    items, next_cursor = await transcripts.list_page(
        uow.session, web.user.id, None, PageRequest(limit, _blank(cursor)),
        language=language, stage=stage,
    )  # fmt: skip
    recent, _ = await jobs.list_page(uow.session, web.user.id, None, PageRequest(20, None))
    active = [j for j in recent if j.status != JobStatus.SUCCEEDED]
    busy = any(not j.status.finished for j in active)
    return page(request, "library.html", web, items=items, next_cursor=next_cursor,
                language=language or "", stage=stage or "", stages=STAGES, limit=limit,
                jobs=active, busy=busy)  # fmt: skip


@router.get("/upload")
async def upload_page(request: Request, web: Session, rt: Rt) -> Response:
    token = issue_token(rt.settings, web.user).token  # for the WebSocket (browsers send no header)
    return page(request, "upload.html", web, ws_token=token)


def _stage_choices(rt_llm: bool) -> list[str]:
    return [s for s in AVAILABLE if s != ENHANCED or rt_llm]


@router.get("/transcripts/{transcript_id}")
async def transcript_page(
    request: Request,
    transcript_id: str,
    web: Session,
    rt: Rt,
    uow: UoW,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    error: Annotated[str | None, Query(max_length=500)] = None,
    job: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The player and the text, speakers, versions, stages, exports and renders."""
    detail = await transcripts.get_transcript(uow.session, transcript_id, version, web.user.id)
    media = await media_service.get_media(uow.session, detail.media_id, web.user.id)
    versions = await transcripts.list_versions(uow.session, detail.id, web.user.id)
    who = speakers.talk_time(detail.document)
    made = await renders.list_renders(uow.session, detail.id, web.user.id)
    return page(
        request, "transcript.html", web, t=detail, media=media, versions=versions,
        speakers=who, renders=made, formats=list(ExportFormat),
        stages=_stage_choices(rt.settings.llm_api_key is not None),
        ws_token=issue_token(rt.settings, web.user).token, error=error, job=job,
    )  # fmt: skip


@router.get("/transcripts/{transcript_id}/diff")
async def diff_view(
    request: Request,
    transcript_id: str,
    web: Session,
    uow: UoW,
    a: Annotated[int, Query(ge=1, le=2**31 - 1)],
    b: Annotated[int, Query(ge=1, le=2**31 - 1)],
) -> Response:
    """The word changes from version ``a`` to ``b`` (an htmx partial)."""
    changes = await transcripts.diff_versions(uow.session, transcript_id, a, b, web.user.id)
    return page(request, "diff.html", web, diff=changes)


@router.get("/transcripts/{transcript_id}/export")
async def export(
    transcript_id: str,
    web: Session,
    uow: UoW,
    format: Annotated[ExportFormat, Query()] = ExportFormat.SRT,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """A version as a download, with the default caption layout."""
    detail = await transcripts.get_transcript(uow.session, transcript_id, version, web.user.id)
    name = f"{detail.filename.rsplit('.', 1)[0] or 'transcript'}-v{detail.version}{suffix(format)}"
    return Response(
        render(detail.document, format, CaptionStyle()),
        media_type=MEDIA_TYPES[format],
        headers={"content-disposition": f'attachment; filename="{_ascii(name)}"'},
    )


def _ascii(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


@router.get("/media/{media_id}/file")
async def media_file(media_id: str, web: Session, rt: Rt, uow: UoW) -> FileResponse:
    """The stored media for the player (its owner only; byte ranges are served)."""
    media = await media_service.get_media(uow.session, media_id, web.user.id)
    kind = mimetypes.guess_type(media.filename)[0] or "application/octet-stream"
    return await stored_file(rt.storage, media.storage_key, kind)


@router.get("/transcripts/{transcript_id}/renders/{render_id}/download")
async def render_file(
    transcript_id: str, render_id: str, web: Session, rt: Rt, uow: UoW
) -> FileResponse:
    made = await renders.get_render(uow.session, transcript_id, render_id, web.user.id)
    return await stored_file(rt.storage, made.storage_key, "video/mp4", f"{made.id[:8]}.mp4")


@router.get("/jobs/{job_id}")
async def job_state(job_id: str, web: Session, uow: UoW) -> JobView:
    """A job as the WebSocket shows it (the pages ask once, for a job that may have ended)."""
    return JobView.model_validate(await jobs.get(uow.session, job_id, web.user.id))


@router.get("/search")
async def search_page(
    request: Request,
    web: Session,
    uow: UoW,
    q: Annotated[str, Query(max_length=500)] = "",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The library search; each hit opens the transcript at its time."""
    results: list[SearchResult] = []
    next_cursor, error = None, None
    if q.strip():
        try:
            results, next_cursor = await search.search(
                uow.session, search.SearchRequest(q=q), PageRequest(20, _blank(cursor)),
                web.user.id,
            )  # fmt: skip
        except errors.InvalidOptionError as exc:
            error = exc.message
    return page(request, "search.html", web, q=q, results=results, next_cursor=next_cursor,
                error=error)  # fmt: skip


@router.get("/account")
async def account(request: Request, web: Session, uow: UoW) -> Response:
    return await actions.account_view(request, web, uow)
