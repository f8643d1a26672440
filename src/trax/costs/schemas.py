"""What readers of costs get back (``trax costs``, ``GET /api/v1/costs``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CostLine(BaseModel):
    """Versions of one model, stage or project (or all of them) and what they cost."""

    model_config = ConfigDict(frozen=True)

    key: str | None = Field(
        default=None, description="The model, stage or project name; null: no project / total."
    )
    versions: int = 0
    cpu_seconds: float = 0.0
    compute_usd: float = Field(default=0.0, description="CPU seconds at the price per CPU-hour.")
    llm_usd: float = Field(default=0.0, description="LLM tokens at the model's price.")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_usd: float = 0.0


class CostReport(BaseModel):
    """Totals of the versions made since ``since`` (all when null)."""

    model_config = ConfigDict(frozen=True)

    since: datetime | None
    cpu_hour_usd: float = Field(
        description="Price of a CPU-hour for versions made before compute cost was recorded."
    )
    total: CostLine
    by_model: list[CostLine]
    by_stage: list[CostLine]
    by_project: list[CostLine]
