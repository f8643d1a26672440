"""The HTTP service: ``create_app()`` with its routers, error handlers and lifespan.

It uses the same runtime, services and queue as the CLI. With the embedded default the server
also runs the in-process worker pool; with a broker configured, ``trax worker`` processes do.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from trax import errors, workfiles
from trax.actors import job_runtime
from trax.bodies import BodyLimit
from trax.compat.router import router as compat_router
from trax.config import Settings, get_settings
from trax.costs.router import router as costs_router
from trax.errors import error_body
from trax.jobs.router import router as jobs_router
from trax.media.router import router as media_router
from trax.notifications.feed import running_feed
from trax.notifications.router import router as notifications_router
from trax.projects.router import router as projects_router
from trax.renders.router import router as renders_router
from trax.search.router import router as search_router
from trax.system.router import router as system_router
from trax.transcripts.router import router as transcripts_router
from trax.users.auth import Callers, LoginLimiter
from trax.users.router import router as users_router
from trax.web import rendering as web_pages
from trax.web.router import mount as mount_web
from trax.webhooks.router import router as webhooks_router

log = structlog.get_logger(__name__)
VALIDATION_FAILED = "the request is not valid"
UNSTORABLE_VALUE = "a value in the request cannot be stored: {reason}"
INTERNAL_ERROR = "internal server error; the server log has the details"
#: SQLSTATE class 22, "data exception": the value itself is wrong (a NUL byte in text, …).
_DATA_EXCEPTION = "22"


def create_served_app() -> FastAPI:
    """The app as ``trax serve`` runs it in each of its processes (uvicorn's factory)."""
    return create_app(owns_process=True)


def _freeze_heap() -> None:
    """Collect once, then move every object alive now (the imported libraries, the routes, the
    runtime: most of the heap) out of the cyclic collector's reach. A full collection then walks
    only what requests made since, instead of pausing every request in flight for 100-250 ms
    several times a minute under load (ADR 0022)."""
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None, *, owns_process: bool = False) -> FastAPI:
    """The service. With ``owns_process`` (``trax serve``: the process is the server's alone),
    everything alive once the app has started is frozen out of the garbage collector's scans."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            job_runtime(settings, sweeping=True) as (rt, queue),
            running_feed(rt) as feed,
            anyio.create_task_group() as tasks,
        ):
            app.state.runtime, app.state.queue, app.state.feed = rt, queue, feed
            tasks.start_soon(workfiles.keep_swept, settings)
            if owns_process:
                _freeze_heap()
            yield
            tasks.cancel_scope.cancel()

    app = FastAPI(title="Trax", version="0.1.0", lifespan=lifespan)
    app.state.login_limiter = LoginLimiter(settings)
    app.state.callers = Callers()
    for router in (
        system_router,
        users_router,
        projects_router,
        media_router,
        transcripts_router,
        search_router,
        renders_router,
        jobs_router,
        costs_router,
        webhooks_router,
        notifications_router,
        compat_router,
    ):
        app.include_router(router)
    mount_web(app)
    app.add_exception_handler(errors.TraxError, _trax_error_or_page)
    app.add_middleware(BodyLimit, max_bytes=settings.max_json_bytes, refuse=render_error)
    if proxies := [p.strip() for p in settings.trusted_proxies.split(",") if p.strip()]:
        # The client address is the peer's unless the peer is a configured proxy; `trax serve`
        # turns uvicorn's own handling (which trusts 127.0.0.1) off.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
    app.add_exception_handler(OSError, _environment_error)
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _trax_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.TraxError)
    return render_error(exc)


async def _trax_error_or_page(request: Request, exc: Exception) -> Response:
    """A Trax error; as a page for a browser on the web pages (ADR 0021)."""
    assert isinstance(exc, errors.TraxError)
    if web_pages.wants_page(request):
        return web_pages.error_page(request, exc.http_status, exc.message)
    return render_error(exc)


def render_error(exc: errors.TraxError) -> JSONResponse:
    """A Trax error as the API answers it."""
    headers = {}
    if isinstance(exc, errors.AuthError):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, errors.RateLimitedError):
        headers["Retry-After"] = str(exc.retry_after)
    body = error_body(exc.code, exc.message, exc.details)
    return JSONResponse(body, status_code=exc.http_status, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": list(e["loc"]), "message": e["msg"]} for e in exc.errors()]
    return JSONResponse(error_body("invalid_request", VALIDATION_FAILED, details), 422)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = "not_found" if exc.status_code == 404 else f"http_{exc.status_code}"
    return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=exc.headers)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database refuses as data (SQLSTATE class 22) is the client's mistake (422);
    any other database error is ours (500, logged by the server)."""
    assert isinstance(exc, sa_exc.DBAPIError)
    state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    if not state.startswith(_DATA_EXCEPTION):
        return await _environment_error(request, exc)
    reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
    body = error_body("invalid_request", UNSTORABLE_VALUE.format(reason=reason))
    return JSONResponse(body, status_code=422)


async def _environment_error(request: Request, exc: Exception) -> JSONResponse:
    """A full disk is 507 and an unreachable database 503, in the one error shape; anything
    else is ours (500)."""
    known = errors.from_environment(exc)
    if known is None:
        return await _internal_error(request, exc)
    log.warning("request failed on the environment", path=request.url.path, error=known.message)
    return await _trax_error(request, known)


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error", path=request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", INTERNAL_ERROR), status_code=500)
