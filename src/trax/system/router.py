"""``/health``, ``/ready`` and ``/api/v1/system/*``."""

from __future__ import annotations

import importlib.metadata

import anyio.to_thread
import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from trax.deps import Q, Rt
from trax.engine.models import offline_models
from trax.runtime import Runtime
from trax.transcripts.options import offered_models

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


@router.get("/health", tags=["system"])
async def health() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get("/ready", tags=["system"], responses={503: {"model": Readiness}})
async def ready(rt: Rt, q: Q) -> JSONResponse:
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
async def models(rt: Rt) -> list[ModelInfo]:
    """The models API users may ask for: those that load without a network on this server,
    and the operator's ``TRAX_EXTRA_MODELS`` (downloaded on first use)."""
    found = {m.name: m.source.value for m in offline_models(rt.settings.model_cache_dir)}
    return [ModelInfo(name=n, source=found.get(n, "hub")) for n in offered_models(rt.settings)]
