"""What readers of transcripts get back (CLI, API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from trax.engine.result import TranscriptDocument


class TranscriptSummary(BaseModel):
    """One line of ``trax list``: a transcript and its newest version."""

    model_config = ConfigDict(frozen=True)

    id: str
    media_id: str
    filename: str
    created_at: datetime
    version: int
    stage: str
    model: str
    language: str
    duration: float
    preview: str


class TranscriptDetail(TranscriptSummary):
    """A transcript version with its whole document."""

    document: TranscriptDocument
