from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class MediaView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    project_id: str | None
    filename: str
    sha256: str
    size_bytes: int
    duration: float | None
    format_name: str
    audio_codec: str
    has_video: bool
    created_at: datetime


class UrlIngest(BaseModel):
    """Download a file from a URL into storage (public http/https addresses only)."""

    url: str = Field(max_length=2048, examples=["https://example.com/talk.mp3"])
    project_id: str | None = None
