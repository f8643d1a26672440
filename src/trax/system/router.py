"""``/health``, ``/ready`` and ``/api/v1/system/*``."""

from __future__ import annotations

import importlib.metadata
from typing import Annotated

import anyio.to_thread
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from trax import pagination
from trax.engine.models import offline_models
from trax.queue import Queue
from trax.runtime import Runtime

router = APIRouter()


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: bool
    broker: bool


class Version(BaseModel):
    name: str = "trax"
    version: str


class ModelInfo(BaseModel):
    name: str
    source: str


def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def queue(request: Request) -> Queue:
    q: Queue = request.app.state.queue
    return q


def page_request(
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> pagination.PageRequest:
    """The ``limit`` and ``cursor`` query parameters of a list endpoint."""
    return pagination.PageRequest(limit=limit, cursor=cursor)


#: A list endpoint's paging parameters, as a FastAPI dependency.
PageParams = Annotated[pagination.PageRequest, Depends(page_request)]


@router.get("/health", tags=["system"])
async def health() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/ready", tags=["system"], responses={503: {"model": Readiness}})
async def ready(
    rt: Annotated[Runtime, Depends(runtime)], q: Annotated[Queue, Depends(queue)]
) -> JSONResponse:
    """The database and the broker answer."""
    database = await _database_ok(rt)
    broker = await anyio.to_thread.run_sync(q.reachable)
    body = Readiness(status="ok" if database and broker else "unavailable", database=database,
                     broker=broker)  # fmt: skip
    return JSONResponse(body.model_dump(), status_code=200 if body.status == "ok" else 503)


async def _database_ok(rt: Runtime) -> bool:
    try:
        async with rt.db.session() as s:
            await s.execute(sa.text("SELECT 1"))
    except (sa.exc.DBAPIError, OSError):
        return False
    return True


@router.get("/api/v1/system/version", tags=["system"])
async def version() -> Version:
    return Version(version=importlib.metadata.version("trax"))


@router.get("/api/v1/system/models", tags=["system"])
async def models(rt: Annotated[Runtime, Depends(runtime)]) -> list[ModelInfo]:
    """Models that load without a network on this server."""
    found = offline_models(rt.settings.model_cache_dir)
    return [ModelInfo(name=m.name, source=m.source.value) for m in found]
