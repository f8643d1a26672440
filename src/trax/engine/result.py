"""The transcript document: the versioned JSON shape every stage reads and writes.

``SCHEMA_VERSION`` changes whenever a field is added, removed or changes meaning. The JSON schema
in ``docs/transcript.schema.json`` is generated from these models and checked by a test.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.2"
#: Punctuation that ends a sentence when a word's text ends with it.
SENTENCE_END = (".", "?", "!", "…", "。", "\uff1f", "\uff01")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Word(_Frozen):
    """One recognised word with its timing (seconds from the start of the media)."""

    start: float
    end: float
    text: str = Field(description="The word as decoded, including its leading space.")
    probability: float
    speaker: str | None = Field(
        default=None, description="Who says the word (e.g. Speaker 1), once a diarized stage ran."
    )


class Segment(_Frozen):
    """A decoded segment: a sentence or phrase with its words."""

    id: int
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    words: tuple[Word, ...] = ()
    language: str | None = Field(
        default=None,
        description="The segment's language when a stage detected it on its own (code-switched "
        "audio); null means the document's language.",
    )
    speaker: str | None = Field(
        default=None,
        description="Who speaks (e.g. Speaker 1, or the name it was renamed to), once a "
        "diarized stage ran; a segment never holds two speakers.",
    )


class Refusal(_Frozen):
    """A chunk whose rewrite the drift guard refused: its original words were kept."""

    start: float
    end: float
    edit_ratio: float = Field(description="Word edit distance of the rewrite / words in.")
    new_words: tuple[str, ...] = Field(description="Content words the rewrite brought in.")


class Guard(_Frozen):
    """The enhanced stage's drift guard in numbers (see ADR 0018)."""

    chunks: int
    rewritten: int
    kept_original: int
    refused: tuple[Refusal, ...] = ()


class Chapter(_Frozen):
    start: float = Field(description="Seconds from the start of the media.")
    title: str


class Extras(_Frozen):
    """What the enhanced stage derives from the whole text (LLM output, schema-validated)."""

    summary: str
    chapters: tuple[Chapter, ...] = ()
    keywords: tuple[str, ...] = ()


class Provenance(_Frozen):
    """How a transcript version was made: enough to reproduce it."""

    stage: str = Field(description="Pipeline stage: basic, multipass, diarized, enhanced, edited.")
    model: str = Field(description="The model name or path as requested.")
    options: dict[str, str | int | float | bool | None]
    engine: dict[str, str] = Field(description="Versions of the engine libraries.")
    parent_version: int | None = Field(
        default=None, description="The version this stage read; null for a first transcription."
    )
    guard: Guard | None = Field(
        default=None,
        description="What the enhanced stage's drift guard did: chunks rewritten and chunks "
        "whose rewrite was refused (their original text kept).",
    )

    def by_hand(
        self, stage: str, options: dict[str, str | int | float | bool | None]
    ) -> Provenance:
        """The provenance of a version a person made from this one (a manual stage: a
        correction, a speaker renamed): the same model and engine, the person's ``options``."""
        return Provenance(stage=stage, model=self.model, options=options, engine=self.engine)


class Region(_Frozen):
    """A stretch of audio a stage looked at again, why, and what it did there."""

    start: float
    end: float
    reasons: tuple[str, ...] = Field(
        description="Why the region was weak: low_probability, repetition, no_speech, language."
    )
    action: str = Field(
        description="replaced (new words kept), kept (the first pass scored better) or dropped "
        "(not speech: its words removed)."
    )
    decode: str | None = Field(
        default=None,
        description="The decode whose words the region holds, e.g. 'beam 5' in a basic "
        "transcript made with decode greedy-beam (its other words are greedy); null in a "
        "multipass stage (its provenance says how it decodes).",
    )
    language: str | None = Field(default=None, description="The language detected in the region.")
    score_before: float = Field(description="The first pass's score of the region (see ADR 0013).")
    score_after: float | None = Field(
        default=None, description="The re-decode's score; null when nothing was decoded."
    )


class TranscriptDocument(_Frozen):
    """A whole transcript of one media file at one pipeline stage."""

    schema_version: str = SCHEMA_VERSION
    language: str
    language_probability: float
    duration: float = Field(description="Duration of the decoded audio in seconds.")
    segments: tuple[Segment, ...]
    provenance: Provenance
    regions: tuple[Region, ...] = Field(
        default=(), description="Regions a refining stage (multipass) decoded again."
    )
    extras: Extras | None = Field(
        default=None, description="Summary, chapters and keywords (the enhanced stage)."
    )

    @property
    def text(self) -> str:
        """The plain text of all segments."""
        return " ".join(s.text.strip() for s in self.segments if s.text.strip())

    @property
    def words(self) -> list[Word]:
        """All words in order."""
        return [w for s in self.segments for w in s.words]

    def to_json(self) -> str:
        """Canonical JSON: same document, same bytes."""
        return self.model_dump_json(indent=2) + "\n"


def json_schema() -> str:
    """The JSON schema of :class:`TranscriptDocument`, as kept in ``docs/``."""
    schema = TranscriptDocument.model_json_schema()
    schema["$id"] = f"https://trax.local/schemas/transcript-{SCHEMA_VERSION}.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # uv run python -m trax.engine.result > docs/transcript.schema.json
    print(json_schema(), end="")
