from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from trax.jobs.models import JobStatus


class JobView(BaseModel):
    """A job as readers see it."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: str
    kind: str
    status: JobStatus
    batch_id: str | None
    source: str
    options: dict[str, Any]
    media_id: str | None
    transcript_id: str | None
    transcript_version: int | None = None
    render_id: str | None = None
    attempts: int
    progress: float
    stage: str | None
    error_kind: str | None
    error_message: str | None
    lease_owner: str | None
    heartbeat_at: datetime | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
