from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from trax.db import Base, IdMixin, JSONType, UTCDateTime, utcnow
from trax.media.models import Media


class Transcript(IdMixin, Base):
    """The transcript of one media file made with one recipe (model + options).

    Its versions are the pipeline stages (basic, enhanced, ...). The same media and recipe never
    get a second transcript: that pair is unique, which makes re-runs idempotent.
    """

    __tablename__ = "transcripts"
    __table_args__ = (sa.UniqueConstraint("media_id", "recipe_key"),)

    media_id: Mapped[str] = mapped_column(sa.ForeignKey("media.id", ondelete="CASCADE"), index=True)
    recipe_key: Mapped[str] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    media: Mapped[Media] = relationship(lazy="raise")


class TranscriptVersion(IdMixin, Base):
    """One stage's output: the whole transcript document as JSON, with its provenance.

    A stage run on a parent version with a recipe (``recipe_key``: the stage and its options)
    is stored once: the same parent and recipe again reuse this row.
    """

    __tablename__ = "transcript_versions"
    __table_args__ = (
        sa.UniqueConstraint("transcript_id", "version"),
        sa.Index("ix_transcript_versions_stage_recipe", "transcript_id", "parent_version",
                 "recipe_key"),
        # Covers a list line (ADR 0019): SQLite answers lists from this index alone. From the
        # table it would walk the overflow pages of `text` and `document` to reach `preview`.
        sa.Index("ix_transcript_versions_summary", "transcript_id", "version", "stage", "model",
                 "language", "duration", "preview"),
    )  # fmt: skip

    transcript_id: Mapped[str] = mapped_column(
        sa.ForeignKey("transcripts.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(sa.Integer)
    stage: Mapped[str] = mapped_column(sa.String(32))
    model: Mapped[str] = mapped_column(sa.String(512))
    language: Mapped[str] = mapped_column(sa.String(16))
    duration: Mapped[float] = mapped_column(sa.Float)
    text: Mapped[str] = mapped_column(sa.Text)
    #: The text's first 80 characters as lists show them: lists read this, never ``text``.
    preview: Mapped[str | None] = mapped_column(sa.String(80))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    parent_version: Mapped[int | None] = mapped_column(sa.Integer)
    #: What decides the content besides the parent: the stage and its options (sha256 hex).
    recipe_key: Mapped[str | None] = mapped_column(sa.String(64))
    #: The document's provenance (stage, model, options, engine versions), without the document.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    wall_seconds: Mapped[float | None] = mapped_column(sa.Float)
    cpu_seconds: Mapped[float | None] = mapped_column(sa.Float)
    #: Money the version cost in all: ``compute_usd`` + ``llm_usd``.
    cost_usd: Mapped[float | None] = mapped_column(sa.Float)
    #: CPU seconds at the price per CPU-hour in force when it was made.
    compute_usd: Mapped[float | None] = mapped_column(sa.Float)
    #: Chat API tokens (from the API's ``usage``) at the model's price.
    llm_usd: Mapped[float | None] = mapped_column(sa.Float)
    prompt_tokens: Mapped[int | None] = mapped_column(sa.Integer)
    completion_tokens: Mapped[int | None] = mapped_column(sa.Integer)
