from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from trax.webhooks.models import DeliveryStatus


class EventType(StrEnum):
    """What an endpoint can subscribe to. ``ping`` is only sent on request (the test event)."""

    JOB_SUCCEEDED = "job.succeeded"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    TRANSCRIPT_VERSION_CREATED = "transcript.version_created"
    PING = "ping"


class EndpointCreate(BaseModel):
    url: str = Field(max_length=2048, examples=["https://example.com/hooks/trax"])
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventType] = Field(
        default_factory=list, description="Events to send; empty: every event."
    )


class EndpointUpdate(BaseModel):
    """Fields to change; ``enabled: true`` re-enables an endpoint that was disabled."""

    url: str | None = Field(default=None, max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[EventType] | None = None
    enabled: bool | None = None


class EndpointView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    created_at: datetime


class EndpointCreated(EndpointView):
    """The new endpoint with its signing secret, which is shown only this once."""

    secret: str


class AttemptView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    status_code: int | None
    error: str | None
    duration_ms: int
    response_excerpt: str | None
    created_at: datetime


class DeliveryView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    endpoint_id: str
    job_id: str | None
    event_type: str
    event_id: str
    message_id: str
    payload: dict[str, Any]
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    attempt_log: list[AttemptView] = Field(default_factory=list)
