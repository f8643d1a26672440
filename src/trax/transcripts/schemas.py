"""What readers of transcripts get back (CLI, API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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
    """A transcript version with its whole text and document."""

    text: str
    document: TranscriptDocument


class VersionSummary(BaseModel):
    """One stored version of a transcript: which stage made it, from which version, with what
    (its provenance), and what it took."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    version: int
    stage: str
    model: str
    language: str
    duration: float
    created_at: datetime
    parent_version: int | None = Field(
        default=None, description="The version this stage refined; null for the first."
    )
    options: dict[str, Any] = Field(default_factory=dict, description="The stage's options.")
    engine: dict[str, str] = Field(
        default_factory=dict, description="Versions of the libraries that made it."
    )
    wall_seconds: float | None = Field(default=None, description="Wall-clock seconds it took.")
    cpu_seconds: float | None = Field(
        default=None, description="CPU seconds of the process while it ran."
    )
    cost_usd: float | None = Field(
        default=None, description="What it cost in all (compute + LLM), in USD."
    )
    compute_usd: float | None = Field(
        default=None, description="CPU seconds at the configured price per CPU-hour."
    )
    llm_usd: float | None = Field(default=None, description="LLM tokens at the model's price.")
    prompt_tokens: int | None = Field(default=None, description="LLM prompt tokens (usage).")
    completion_tokens: int | None = Field(default=None, description="LLM completion tokens.")
    words: int | None = Field(default=None, description="Words in the version.")


class TranscriptionRequest(BaseModel):
    """Transcribe stored media. Options left out take the server's defaults."""

    media_id: str
    model: str | None = Field(default=None, max_length=512, examples=["base", "tiny.en"])
    language: str | None = Field(default=None, min_length=2, max_length=16, examples=["en"])
    task: Literal["transcribe", "translate"] = "transcribe"
    beam_size: int = Field(default=5, ge=1, le=10)
    vad: bool = True
    initial_prompt: str | None = Field(default=None, max_length=2000)
    hotwords: str | None = Field(
        default=None, max_length=2000, description="Words to bias decoding towards (names, jargon)."
    )
    pipeline: str | None = Field(
        default=None,
        max_length=8,
        description="Stages after the first transcription, each stored as a version: v1 (none), "
        "v2 (enhanced: LLM clean-up, timestamps kept), v3 (multipass: weak regions decoded "
        "again).",
        examples=["v1", "v2", "v3"],
    )


class StageCreate(BaseModel):
    """Run a stage on a stored version of the transcript (default: the newest)."""

    stage: str = Field(max_length=32, examples=["multipass"])
    options: dict[str, str | int | float | bool | None] = Field(
        default_factory=dict,
        description="The stage's options (multipass: model, beam_size; enhanced: vocabulary, "
        "chunk_words, overlap_words, max_edit_ratio, max_new_words, extras).",
    )
    parent_version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="The version to refine; default: newest."
    )


class SpeakerTimeView(BaseModel):
    """One speaker and how long they talk (seconds of their words)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    name: str
    seconds: float
    words: int
    segments: int


class SpeakersView(BaseModel):
    """The speakers of one version of a transcript."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    transcript_id: str
    version: int
    speakers: list[SpeakerTimeView]


class SpeakerRename(BaseModel):
    """Call speaker ``from`` ``to`` in a version (default: the newest)."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", max_length=200, examples=["Speaker 1"])
    to: str = Field(max_length=200, examples=["Ada"])
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)


class EditCreate(BaseModel):
    """Correct a segment, or one word of it, in a version (default: the newest). A word keeps
    its start and end; a segment keeps its words' timings when the word count is unchanged,
    else its words are spread over the segment's span."""

    segment: int = Field(ge=0, le=10**6, description="The segment's index in the version.")
    word: int | None = Field(
        default=None, ge=0, le=10**6, description="The word's index in the segment; null: all."
    )
    text: str = Field(max_length=4000, examples=["Americans"])
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
