"""The request dependencies every router uses, in one place.

- :data:`Rt`: the process's runtime (settings, database, storage).
- :data:`Q`: the broker, for the few routes that wait on jobs themselves.
- :data:`UoW`: the request's unit of work. One transaction per request, committed once at the
  edge: right after the route function returns and before the response is sent (FastAPI's
  function-scoped dependency), so a client that got an answer can read what it created. Messages
  for the jobs it created are sent after that commit (:mod:`trax.unit_of_work`). An error rolls
  everything back.
- :data:`CurrentUser`: the authenticated caller (access token or API key), looked up in its own
  short read, so that a long upload holds no transaction, and remembered by the process for a
  couple of seconds (:class:`~trax.users.auth.Callers`).
- :data:`PageParams`: ``limit`` and ``cursor`` of a list endpoint.

Every dependency here is ``async def`` although none awaits: FastAPI runs a plain ``def``
dependency in its thread pool, a thread hand-off per dependency per request (a third of the
cost of a small authenticated request, measured in ADR 0019).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.responses import FileResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.background import BackgroundTask

from trax import pagination
from trax.queue import Queue
from trax.runtime import Runtime
from trax.storage import Storage
from trax.unit_of_work import UnitOfWork, unit_of_work
from trax.users.auth import Caller, Callers


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def queue(request: Request) -> Queue:
    q: Queue = request.app.state.queue
    return q


Rt = Annotated[Runtime, Depends(runtime)]
Q = Annotated[Queue, Depends(queue)]


async def request_unit_of_work(rt: Rt, q: Q) -> AsyncIterator[UnitOfWork]:
    async with unit_of_work(rt.db, q) as uow:
        yield uow


#: The request's unit of work (committed when the route function returns).
UoW = Annotated[UnitOfWork, Depends(request_unit_of_work, scope="function")]


async def stored_file(
    storage: Storage, key: str, media_type: str, filename: str | None = None
) -> FileResponse:
    """A stored object as the response (byte ranges are served, for players): a local file, or
    a local copy of a remote object that is removed once the response is sent."""
    from trax.transcripts.tasks import local_copy

    files = AsyncExitStack()
    path = await files.enter_async_context(local_copy(storage, key))
    return FileResponse(path, media_type=media_type, filename=filename,
                        background=BackgroundTask(files.aclose))  # fmt: skip


_bearer = HTTPBearer(auto_error=False, description="An access token or an API key (trx_…).")


async def current_user(
    request: Request,
    rt: Rt,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    callers: Callers = request.app.state.callers
    return await callers.authenticate(
        rt.db, rt.settings, credentials.credentials if credentials else ""
    )


#: The authenticated caller.
CurrentUser = Annotated[Caller, Depends(current_user)]


async def page_request(
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> pagination.PageRequest:
    """The ``limit`` and ``cursor`` query parameters of a list endpoint."""
    return pagination.PageRequest(limit=limit, cursor=cursor)


#: A list endpoint's paging parameters.
PageParams = Annotated[pagination.PageRequest, Depends(page_request)]
