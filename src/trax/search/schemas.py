from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SearchHit(BaseModel):
    """One matching segment."""

    segment: int = Field(description="The segment's index in the version's document.")
    start: float = Field(description="Where the segment starts (seconds).")
    end: float = Field(description="Where the segment ends (seconds).")
    speaker: str | None = Field(description="Who speaks, once a diarized stage ran.")
    language: str
    text: str = Field(description="The segment's text.")
    highlights: list[tuple[int, int]] = Field(
        description="The matched words: [start, end) character offsets into ``text``."
    )
    snippet: str = Field(
        description="``text`` HTML-escaped, each matched word inside <mark>…</mark>."
    )
    link: str = Field(description="The transcript at this moment: /api/v1/transcripts/{id}?t=START")


class SearchResult(BaseModel):
    """One transcript with matches, and its best-ranked hits in time order."""

    transcript_id: str
    media_id: str
    filename: str
    project_id: str | None
    version: int = Field(description="The version searched: the transcript's newest.")
    stage: str
    created_at: datetime
    score: float = Field(description="Rank of the best hit: lower is better (bm25 / ts_rank_cd).")
    hit_count: int = Field(description="How many segments match (``hits`` shows the best few).")
    hits: list[SearchHit]
