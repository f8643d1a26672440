"""``/api/v1/costs``: what your transcripts cost."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from trax.costs import service as costs
from trax.costs.schemas import CostReport
from trax.deps import CurrentUser, Rt, UoW

router = APIRouter(prefix="/api/v1", tags=["costs"])


@router.get("/costs")
async def get_costs(
    user: CurrentUser,
    rt: Rt,
    uow: UoW,
    since: Annotated[
        datetime | None, Query(description="Only versions made at or after this time.")
    ] = None,
) -> CostReport:
    """What your transcript versions cost (compute and LLM), in all and per model, stage and
    project. A ``since`` without a time zone is UTC."""
    return await costs.report(uow.session, rt.settings.cpu_hour_usd, user.id, since)
